package windows

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"

	"github.com/sondehq/sonde/agent/config"
)

//go:embed agent.wxs.tmpl
var wxsText string

var wxsTemplate = template.Must(template.New("agent.wxs").Funcs(template.FuncMap{"xml": xmlText}).Parse(wxsText))

// The names of the MSI's rows that tables.go refers to.
const (
	agentComponent  = "Agent"
	enrollComponent = "Enroll"
	enrollKeyPath   = "EnrollCollector" // the Registry row that is the enrollment component's key path
	serviceRow      = "AgentService"
	exeName         = "sonde-agent.exe"
	serviceName     = "sonde-agent"
)

// serviceArgs are the agent's arguments as the service: the state dir
// under %ProgramData% (CommonAppDataFolder ends in a backslash).
const serviceArgs = `run --state "[CommonAppDataFolder]Sonde\agent" --log-format json`

// product is what the .wxs is made from.
type product struct {
	Release, Version         string // the release version, and ProductVersion (see productVersion)
	ProductCode, UpgradeCode string
	AgentGUID, EnrollGUID    string
}

// newProduct derives the product of a release version: ProductVersion,
// a ProductCode of its own (Windows Installer wants one per version), and
// component GUIDs that stay the same across versions (a component keeps
// its GUID while it installs the same resources).
func newProduct(release string) (product, error) {
	v, err := productVersion(release)
	if err != nil {
		return product{}, err
	}
	return product{
		Release:     release,
		Version:     v,
		ProductCode: guid("sonde-agent", "product", release),
		UpgradeCode: upgradeCode,
		AgentGUID:   guid("sonde-agent", "component", agentComponent),
		EnrollGUID:  guid("sonde-agent", "component", enrollComponent),
	}, nil
}

// wxs returns the WiX source of p's MSI, which expects the agent's
// executable as exeName in the folder wixl runs in.
func (p product) wxs() ([]byte, error) {
	var b bytes.Buffer
	err := wxsTemplate.Execute(&b, struct {
		product
		AgentComponent, EnrollComponent, EnrollKeyPath, ServiceRow string
		Exe, Service, ServiceArgs                                  string
		RegistryKey, RegCollector, RegToken, RegCAPin              string
	}{
		p, agentComponent, enrollComponent, enrollKeyPath, serviceRow,
		exeName, serviceName, serviceArgs,
		config.RegistryKey, config.RegCollector, config.RegToken, config.RegCAPin,
	})
	if err != nil {
		return nil, fmt.Errorf("writing the .wxs: %w", err)
	}
	return b.Bytes(), nil
}

// xmlText escapes s for an XML attribute or text.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

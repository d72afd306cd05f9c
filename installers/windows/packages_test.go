//go:build packages

package windows

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/installers/release"
)

// The agent for Windows, built once for every test of this file.
var (
	exeOnce sync.Once
	exeDir  string // a release.Build.Out with bin/windows-amd64/sonde-agent.exe
	exeErr  error
)

const testVersion = "0.4.1~dev.7.g1a2b3c4"

var testEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// buildMSI builds the MSI into a new folder, from the agent built once.
func buildMSI(t *testing.T) string {
	t.Helper()
	exeOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			exeErr = err
			return
		}
		if exeDir, exeErr = os.MkdirTemp("", "sonde-msi-test-"); exeErr != nil {
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(exeDir) })
		b := &release.Build{Root: root, Version: testVersion, Epoch: testEpoch, Out: exeDir}
		exeErr = b.Binaries(context.Background(), release.Agent, []release.Target{Target})
	})
	if exeErr != nil {
		t.Fatal(exeErr)
	}
	out := t.TempDir()
	bin := filepath.Join(out, "bin", "windows-amd64")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(filepath.Join(exeDir, "bin", "windows-amd64", exeName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, exeName), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &release.Build{Root: "../..", Version: testVersion, Epoch: testEpoch, Out: out}
	got, err := Build(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "sonde-agent-"+testVersion+"-x64.msi"); len(got) != 1 || got[0] != want {
		t.Fatalf("artifacts %q, want %s", got, want)
	}
	return got[0]
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// row returns the row of table whose column key is value.
func row(t *testing.T, msi, table, key, value string) map[string]string {
	t.Helper()
	rows, err := readTable(context.Background(), msi, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r[key] == value {
			return r
		}
	}
	t.Fatalf("no row %s=%s in %s: %v", key, value, table, rows)
	return nil
}

// TestMSI: the tables Windows Installer acts on, read back with msiinfo.
func TestMSI(t *testing.T) {
	msi := buildMSI(t)
	tables := run(t, "msiinfo", "tables", msi)
	for _, want := range []string{"ServiceInstall", "ServiceControl", "Upgrade", "Registry", "LaunchCondition", "MsiLockPermissionsEx", "File", "Component"} {
		if !strings.Contains("\n"+tables, "\n"+want+"\n") {
			t.Errorf("msiinfo tables lacks %s:\n%s", want, tables)
		}
	}
	p, err := newProduct(testVersion)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		table, key, value string
		want              map[string]string
	}{
		{"ServiceInstall", "Name", "sonde-agent", map[string]string{
			"ServiceType": "16", "StartType": "2", "ErrorControl": "32769", "StartName": "LocalSystem", "Component_": "Agent",
			"Arguments": `run --state "[CommonAppDataFolder]Sonde\agent" --log-format json`}},
		// Start on install (1), stop on install and uninstall (2, 0x20), delete on uninstall (0x80).
		{"ServiceControl", "Name", "sonde-agent", map[string]string{"Event": "163", "Wait": "1", "Component_": "Agent"}},
		{"Property", "Property", "SecureCustomProperties", map[string]string{"Value": "CAPIN;COLLECTOR;TOKEN;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED"}},
		{"Property", "Property", "MsiHiddenProperties", map[string]string{"Value": "TOKEN"}},
		{"Property", "Property", "ALLUSERS", map[string]string{"Value": "1"}},
		{"Property", "Property", "ProductVersion", map[string]string{"Value": "0.4.1.7"}},
		{"Property", "Property", "ProductCode", map[string]string{"Value": p.ProductCode}},
		{"Property", "Property", "UpgradeCode", map[string]string{"Value": upgradeCode}},
		{"Component", "Component", "Enroll", map[string]string{"Condition": "COLLECTOR AND TOKEN AND CAPIN", "Attributes": "260", "KeyPath": "EnrollCollector"}},
		{"Component", "Component", "Agent", map[string]string{"Attributes": "256", "Directory_": "INSTALLDIR", "KeyPath": "SondeAgentExe"}},
		{"Directory", "Directory", "INSTALLDIR", map[string]string{"Directory_Parent": "ProgramFiles64Folder", "DefaultDir": "Sonde"}},
		{"File", "File", "SondeAgentExe", map[string]string{"FileName": "sonde-agent.exe"}},
		{"Registry", "Registry", "EnrollCollector", map[string]string{"Root": "2", "Key": `SOFTWARE\Sonde\Enroll`, "Name": "Collector", "Value": "[COLLECTOR]"}},
		{"Registry", "Registry", "EnrollToken", map[string]string{"Name": "Token", "Value": "[TOKEN]"}},
		{"Registry", "Registry", "EnrollCAPin", map[string]string{"Name": "CAPin", "Value": "[CAPIN]"}},
		{"MsiLockPermissionsEx", "LockObject", "EnrollCollector", map[string]string{"Table": "Registry", "SDDLText": "D:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)"}},
		{"Upgrade", "ActionProperty", "WIX_UPGRADE_DETECTED", map[string]string{"UpgradeCode": upgradeCode, "VersionMin": "", "VersionMax": "0.4.1", "Attributes": "513"}},
		{"Upgrade", "ActionProperty", "WIX_DOWNGRADE_DETECTED", map[string]string{"VersionMin": "0.4.1", "VersionMax": "", "Attributes": "2"}},
		{"LaunchCondition", "Condition", "NOT WIX_DOWNGRADE_DETECTED", map[string]string{"Description": "A newer version of Sonde is installed. Uninstall it first to install this older one."}},
		{"LaunchCondition", "Condition", "NOT (COLLECTOR OR TOKEN OR CAPIN) OR (COLLECTOR AND TOKEN AND CAPIN)", map[string]string{}},
	}
	for _, c := range checks {
		r := row(t, msi, c.table, c.key, c.value)
		for col, want := range c.want {
			if r[col] != want {
				t.Errorf("%s %s=%s: %s is %q, want %q", c.table, c.key, c.value, col, r[col], want)
			}
		}
	}
	for _, seq := range []string{"RemoveExistingProducts", "FindRelatedProducts", "InstallServices", "StartServices", "StopServices", "DeleteServices", "WriteRegistryValues", "LaunchConditions"} {
		row(t, msi, "InstallExecuteSequence", "Action", seq)
	}
	info := run(t, "msiinfo", "suminfo", msi)
	for _, want := range []string{"Template: x64;1033", "Subject: Sonde agent " + testVersion, "Created: Sun Jun  1 12:00:00 2025", "Last saved: Sun Jun  1 12:00:00 2025"} {
		if !strings.Contains(info, want) {
			t.Errorf("msiinfo suminfo lacks %q:\n%s", want, info)
		}
	}
}

// TestMSISigned: osslsigncode verifies the MSI and the executable in it,
// with the throwaway CA as the trusted one.
func TestMSISigned(t *testing.T) {
	msi := buildMSI(t)
	dir := t.TempDir()
	ca, _, _, err := throwaway()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	// msiextract names what it extracted under dir, leaving out
	// ProgramFiles64Folder.
	extracted := strings.TrimSpace(run(t, "msiextract", "-C", dir, msi))
	if want := filepath.Join("Sonde", exeName); extracted != want {
		t.Fatalf("msiextract gave %q, want %s", extracted, want)
	}
	exe := filepath.Join(dir, extracted)
	for _, f := range []string{msi, exe} {
		out := run(t, "osslsigncode", "verify", "-CAfile", caFile, "-in", f)
		for _, want := range []string{"Signature verification: ok", "Subject: /O=Sonde/CN=Sonde development build (not trusted)", "Signing time: Jun  1 12:00:00 2025 GMT"} {
			if !strings.Contains(out, want) {
				t.Errorf("osslsigncode verify %s lacks %q:\n%s", filepath.Base(f), want, out)
			}
		}
	}
	if out, err := exec.Command("osslsigncode", "verify", "-in", msi).CombinedOutput(); err == nil {
		t.Errorf("the throwaway certificate is trusted without its CA:\n%s", out)
	}
}

// TestMSISignedFromEnvironment: with SONDE_SIGN_CERT and SONDE_SIGN_KEY,
// the build signs with them (an ECDSA certificate, its chain in the
// file), not with the throwaway certificate.
func TestMSISignedFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Signing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test Publisher"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	t.Setenv(EnvSignCert, write("cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: leafDER}, &pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	t.Setenv(EnvSignKey, write("key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	msi := buildMSI(t)
	out := run(t, "osslsigncode", "verify", "-CAfile", caFile, "-in", msi)
	if !strings.Contains(out, "Signature verification: ok") || !strings.Contains(out, "Subject: /CN=Test Publisher") {
		t.Errorf("osslsigncode verify:\n%s", out)
	}
}

// TestMSIReproducible: two builds give the same signed MSI, a second
// apart and in other folders.
func TestMSIReproducible(t *testing.T) {
	a, err := os.ReadFile(buildMSI(t))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // wixl reads the clock to the second
	b, err := os.ReadFile(buildMSI(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two builds differ: sha256 %x and %x", sha256.Sum256(a), sha256.Sum256(b))
	}
}

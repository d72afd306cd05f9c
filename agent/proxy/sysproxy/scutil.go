package sysproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// scutilDict is what `scutil --proxy` prints: scalars and arrays of
// scalars, by key, at the top level.
type scutilDict struct {
	Scalars map[string]string
	Arrays  map[string][]string
}

// Bounds of parseScutil.
const (
	maxScutilEntries = 512
	maxScutilDepth   = 8
)

// ScutilSource is the Source of the settings Scutil returns.
const ScutilSource = "scutil --proxy"

// parseScutil parses scutil's printout of a dictionary:
//
//	<dictionary> {
//	  ExceptionsList : <array> {
//	    0 : *.local
//	  }
//	  HTTPEnable : 1
//	}
//
// It keeps the top level's scalars and arrays of scalars; deeper
// dictionaries (per-interface settings) are skipped.
func parseScutil(b []byte) (scutilDict, error) {
	d := scutilDict{Scalars: map[string]string{}, Arrays: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	depth, entries := 0, 0
	array := "" // the top-level array being read
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if entries++; entries > maxScutilEntries {
			return d, fmt.Errorf("scutil: more than %d lines", maxScutilEntries)
		}
		if line == "}" {
			if depth == 0 {
				return d, fmt.Errorf("scutil: '}' without a '{'")
			}
			depth--
			if depth == 1 {
				array = ""
			}
			continue
		}
		k, v, ok := strings.Cut(line, " : ")
		if !ok {
			if strings.HasSuffix(line, "{") { // the top "<dictionary> {"
				if depth++; depth > maxScutilDepth {
					return d, fmt.Errorf("scutil: nested deeper than %d", maxScutilDepth)
				}
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.HasSuffix(v, "{") {
			if depth++; depth > maxScutilDepth {
				return d, fmt.Errorf("scutil: nested deeper than %d", maxScutilDepth)
			}
			if depth == 2 && strings.HasPrefix(v, "<array>") {
				array = k
				d.Arrays[k] = []string{}
			}
			continue
		}
		switch {
		case depth == 1:
			d.Scalars[k] = v
		case depth == 2 && array != "":
			d.Arrays[array] = append(d.Arrays[array], v)
		}
	}
	if depth != 0 {
		return d, fmt.Errorf("scutil: %d dictionaries not closed", depth)
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("scutil: reading its output: %w", err)
	}
	return d, nil
}

// Scutil reads the proxy dictionary `scutil --proxy` prints (the
// SystemConfiguration framework's settings of the primary network
// service): a proxy per protocol (HTTPProxy and HTTPPort, enabled by
// HTTPEnable), the exceptions (ExceptionsList, and ExcludeSimpleHostnames
// as "<local>"), the PAC URL and auto-discovery (WPAD). On an error it
// returns what it read before it.
func Scutil(b []byte) ([]Setting, error) {
	d, err := parseScutil(b)
	return proxiesOf(d, ScutilSource), err
}

// proxiesOf reads a SystemConfiguration proxy dictionary, as scutil
// prints it or as preferences.plist stores it (see Preferences).
func proxiesOf(d scutilDict, source string) []Setting {
	var out []Setting
	for _, p := range []struct{ key, kind string }{{"HTTP", KindHTTP}, {"HTTPS", KindHTTPS}, {"FTP", KindFTP}, {"SOCKS", KindSOCKS}} {
		host, ok := d.Scalars[p.key+"Proxy"]
		if !ok {
			continue
		}
		v := host
		if port, ok := d.Scalars[p.key+"Port"]; ok {
			v = host + ":" + port
			if strings.Contains(host, ":") {
				v = "[" + host + "]:" + port
			}
		}
		out = append(out, Setting{Source: source, Name: p.key + "Proxy", Kind: p.kind, Value: v, Enabled: d.Scalars[p.key+"Enable"] == "1"})
	}
	if ex, ok := d.Arrays["ExceptionsList"]; ok && len(ex) > 0 {
		out = append(out, Setting{Source: source, Name: "ExceptionsList", Kind: KindBypass, Value: strings.Join(ex, ", "), Enabled: true})
	}
	if d.Scalars["ExcludeSimpleHostnames"] == "1" {
		out = append(out, Setting{Source: source, Name: "ExcludeSimpleHostnames", Kind: KindBypass, Value: "<local>", Enabled: true})
	}
	if u, ok := d.Scalars["ProxyAutoConfigURLString"]; ok {
		out = append(out, Setting{Source: source, Name: "ProxyAutoConfigURLString", Kind: KindPAC, Value: u, Enabled: d.Scalars["ProxyAutoConfigEnable"] == "1"})
	}
	if d.Scalars["ProxyAutoDiscoveryEnable"] == "1" {
		out = append(out, Setting{Source: source, Name: "ProxyAutoDiscoveryEnable", Kind: KindAutoDetect, Value: "on", Enabled: true})
	}
	return out
}

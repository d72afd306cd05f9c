package probe

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkProxySettings finishes each setting as the probe does and checks
// that it is bounded, valid and free of the password it held.
func checkProxySettings(t *testing.T, settings []ProxySetting) {
	env := &Env{}
	for _, s := range settings {
		raw := s
		pw := checkProxy(&raw)
		f := finishProxy(s, env)
		for _, v := range []string{f.Value, f.Source, f.Name, f.Host, f.Kind} {
			if !utf8.ValidString(v) || len(v) > maxProxyValue {
				t.Fatalf("unbounded or invalid %q", v)
			}
		}
		if pw != "" && f.Value != withheldValue && strings.Contains(f.Value, pw) {
			t.Fatalf("password %q left in %q", pw, f.Value)
		}
	}
}

func FuzzProxyLines(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "*", "root", "etc", "environment"))
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "*", "root", "etc", "profile.d", "*"))
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "*", "root", "etc", "apt", "apt.conf.d", "*"))
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "*", "root", "etc", "systemd", "system.conf.d", "*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func(string, []byte) ([]ProxySetting, error){shellProxies, aptProxies, systemdProxies} {
			s, _ := parse("fuzz", b)
			checkProxySettings(t, s)
		}
	})
}

func FuzzAptConf(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "*", "root", "etc", "apt", "apt.conf.d", "*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if entries, _ := parseAptConf(b); len(entries) > maxAptEntries {
			t.Fatalf("%d entries", len(entries))
		}
	})
}

func FuzzScutil(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "macos", "scutil.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := parseScutil(b)
		if len(d.Scalars)+len(d.Arrays) > maxScutilEntries {
			t.Fatalf("%d entries", len(d.Scalars)+len(d.Arrays))
		}
		s, _ := scutilProxies(b)
		checkProxySettings(t, s)
	})
}

func FuzzConnectionSettings(f *testing.F) {
	f.Add([]byte{0x18, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	blob := binary.LittleEndian.AppendUint32(nil, 0x28)
	blob = binary.LittleEndian.AppendUint32(blob, 3)
	blob = binary.LittleEndian.AppendUint32(blob, connProxy|connDirect)
	for _, s := range []string{"proxy.corp.example:8080", "<local>", "http://wpad/proxy.pac"} {
		blob = binary.LittleEndian.AppendUint32(blob, uint32(len(s)))
		blob = append(blob, s...)
	}
	f.Add(blob)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConnectionSettings(b)
		if err != nil {
			return
		}
		for _, s := range []string{c.Proxy, c.Bypass, c.AutoURL} {
			if !utf8.ValidString(s) || len(s) > maxProxyValue {
				t.Fatalf("unbounded or invalid %q", s)
			}
		}
		checkProxySettings(t, proxyServers("WinHTTP", "", "ProxyServer", c.Proxy, true))
	})
}

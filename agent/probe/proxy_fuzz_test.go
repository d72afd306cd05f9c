package probe

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sondehq/sonde/agent/proxy/sysproxy"
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

// FuzzScutil checks that what the probe makes of scutil's settings is
// bounded and free of passwords; sysproxy's own fuzz targets check the
// parsing.
func FuzzScutil(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "proxy", "macos", "scutil.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := sysproxy.Scutil(b)
		checkProxySettings(t, proxySettings(s))
	})
}

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
		if pw != "" && f.Value != withheldValue && passwordLeft(f.Value, pw) {
			t.Fatalf("password %q left in %q", pw, f.Value)
		}
	}
}

// passwordLeft says whether value still holds the password pw: in the
// userinfo, or anywhere when nothing was redacted. Once the userinfo's
// password is redacted, the same text elsewhere is another part of the
// value that happens to read the same ("http://:0000@0000", a host made
// so by dropping a control character), not the password.
func passwordLeft(value, pw string) bool {
	if !strings.Contains(value, pw) {
		return false
	}
	return !strings.Contains(value, "[REDACTED:") || strings.Contains(value, ":"+pw+"@")
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

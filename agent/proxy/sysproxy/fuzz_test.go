package sysproxy

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func FuzzScutil(f *testing.F) {
	f.Add(readFixture(f, "macos", "scutil.txt"))
	f.Add([]byte("<dictionary> {\n  ExcludeSimpleHostnames : 1\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := parseScutil(b)
		if len(d.Scalars)+len(d.Arrays) > maxScutilEntries {
			t.Fatalf("%d entries", len(d.Scalars)+len(d.Arrays))
		}
		if s, _ := Scutil(b); len(s) > 8 {
			t.Fatalf("%d settings from one dictionary", len(s))
		}
	})
}

func FuzzShell(f *testing.F) {
	for _, p := range []string{"laptop/root/etc/environment", "laptop/root/etc/profile.d/corp-proxy.sh", "laptop/root/etc/systemd/system.conf.d/10-proxy.conf"} {
		f.Add(readFixture(f, filepath.FromSlash(p)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range append(Shell("f", b), Systemd("f", b)...) {
			if len(s.Value) > len(b) || len(s.Name) > len(b)+len("ManagerEnvironment: ") {
				t.Fatalf("a setting larger than its input: %+v", s)
			}
		}
	})
}

func FuzzConnectionSettings(f *testing.F) {
	f.Add(blob(0x18, connDirect, "", ""))
	f.Add(blob(0x46, connProxy|connDirect, "proxy.corp.example:8080", "<local>", "http://wpad/proxy.pac"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConnectionSettings(b)
		if err != nil {
			return
		}
		for _, s := range []string{c.Proxy, c.Bypass, c.AutoURL} {
			if !utf8.ValidString(s) || len(s) > MaxValue {
				t.Fatalf("unbounded or invalid %q", s)
			}
		}
		if s := proxyServers(WinHTTPSource, "", "ProxyServer", c.Proxy, true); len(s) > maxServers {
			t.Fatalf("%d servers", len(s))
		}
	})
}

func FuzzPreferences(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "macos", "preferences.plist"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<plist version="1.0"><dict><key>CurrentSet</key><string>/Sets/x</string></dict></plist>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Preferences(b)
		if err != nil && len(s) > 0 {
			t.Fatalf("settings with an error: %+v", s)
		}
		if len(s) > 8 {
			t.Fatalf("%d settings from one service", len(s))
		}
	})
}

package proxy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// probeFixtures is the proxy probe's fixture folder: the system sources
// are read from the same recorded machines the probe reports on.
var probeFixtures = filepath.Join("..", "probe", "testdata", "proxy")

func registry(t *testing.T, text string) winreg.Reader {
	t.Helper()
	r, err := winreg.ParseExport([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// check compares Resolve's answers for targets with a system.
func check(t *testing.T, s *System, want map[string]string) {
	t.Helper()
	for target, w := range want {
		if got := resolved(t, target, Settings{Getenv: env(), System: s}); got != w {
			t.Errorf("%s:\ngot  %s\nwant %s", target, got, w)
		}
	}
}

func TestLinuxSystem(t *testing.T) {
	laptop := linuxSystem(filepath.Join(probeFixtures, "laptop", "root", "etc"))
	check(t, laptop, map[string]string{
		// https_proxy wins over HTTPS_PROXY (a typo'd port) in the same file.
		"collector.example.com:7443":  "http://jdoe:Winter2024%21@proxy.corp.example:3128; proxy from https_proxy in /etc/environment",
		"collector.corp.example:7443": "DIRECT; no proxy: exempt by no_proxy in /etc/environment",
	})
	want := []string{"ALL_PROXY in /etc/profile.d/corp-proxy.sh: holds a shell variable or command, which is not expanded"}
	if !slices.Equal(laptop.Problems, want) {
		t.Errorf("problems %q, want %q", laptop.Problems, want)
	}

	server := linuxSystem(filepath.Join(probeFixtures, "server", "root", "etc"))
	check(t, server, map[string]string{"collector.example.com:7443": "DIRECT; no proxy configured"})
	if len(server.Problems) != 0 {
		t.Errorf("problems %q", server.Problems)
	}

	// systemd's drop-ins override system.conf, and come before
	// /etc/environment.
	etc := t.TempDir()
	write(t, filepath.Join(etc, "systemd", "system.conf"), "[Manager]\nDefaultEnvironment=https_proxy=http://old:1\n")
	write(t, filepath.Join(etc, "systemd", "system.conf.d", "50-proxy.conf"), "[Manager]\nDefaultEnvironment=\"https_proxy=http://new:2\" no_proxy=.internal\n")
	write(t, filepath.Join(etc, "environment"), "https_proxy=http://env-file:3\n")
	write(t, filepath.Join(etc, "profile.d", "a.sh"), "export https_proxy=socks5://s:1080\n")
	s := linuxSystem(etc)
	check(t, s, map[string]string{
		"collector.example.com:7443": "http://new:2; proxy from DefaultEnvironment: https_proxy in /etc/systemd/system.conf.d/50-proxy.conf",
		"c.internal:7443":            "DIRECT; no proxy: exempt by DefaultEnvironment: no_proxy in /etc/systemd/system.conf.d/50-proxy.conf",
	})
	// An unreadable place is a problem, not a failure.
	if err := os.Chmod(filepath.Join(etc, "environment"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root reads it anyway
		if s := linuxSystem(etc); len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "permission denied") {
			t.Errorf("problems %q", s.Problems)
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWindowsSystem(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(probeFixtures, "windows", "registry.reg"))
	if err != nil {
		t.Fatal(err)
	}
	// WinHTTP (what services use) first, with its bypass list.
	check(t, windowsSystem(registry(t, string(b))), map[string]string{
		"collector.example.com:7443":  "http://proxy.corp.example:8080; proxy from ProxyServer in WinHTTP",
		"collector.corp.example:7443": "DIRECT; no proxy: exempt by ProxyBypass in WinHTTP",
		"collector:7443":              "DIRECT; no proxy: exempt by ProxyBypass in WinHTTP",
	})

	const hku = `[HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings]` + "\n"
	const conns = `[HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections]` + "\n"
	const head = "Windows Registry Editor Version 5.00\n\n"
	const profile = `[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\S-1-5-21-1-2-3-1001]` + "\n\"ProfileImagePath\"=\"C:\\\\Users\\\\jdoe\"\n\n"
	for name, tc := range map[string]struct{ reg, want string }{
		"a user's https= entry": {hku + "\"ProxyEnable\"=dword:00000001\n\"ProxyServer\"=\"http=h:80;https=s:8443\"\n",
			`http://s:8443; proxy from ProxyServer in HKU\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings (jdoe)`},
		"only http=: HTTPS goes direct": {hku + "\"ProxyEnable\"=dword:00000001\n\"ProxyServer\"=\"http=h:80\"\n",
			"DIRECT; no proxy configured"},
		"switched off": {hku + "\"ProxyEnable\"=dword:00000000\n\"ProxyServer\"=\"p:3128\"\n",
			"DIRECT; no proxy configured"},
		"PAC": {hku + "\"AutoConfigURL\"=\"http://wpad.corp.example/proxy.pac\"\n",
			`DIRECT; PAC configured (AutoConfigURL in HKU\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings (jdoe): http://wpad.corp.example/proxy.pac); not supported, set a proxy in agent.yaml`},
		"WPAD, Windows' default": {hku + "\"ProxyEnable\"=dword:00000000\n\n" + conns + "\"DefaultConnectionSettings\"=hex:46,00,00,00,02,00,00,00,09,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00\n",
			`DIRECT; proxy auto-detection (WPAD) configured (DefaultConnectionSettings in HKU\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections (jdoe)); not supported, set a proxy in agent.yaml if one is needed`},
		"SOCKS only": {hku + "\"ProxyEnable\"=dword:00000001\n\"ProxyServer\"=\"socks=s:1080\"\n",
			`DIRECT; a SOCKS proxy configured (ProxyServer in HKU\S-1-5-21-1-2-3-1001\Software\Microsoft\Windows\CurrentVersion\Internet Settings (jdoe): s:1080); not supported, set an HTTP proxy in agent.yaml`},
	} {
		t.Run(name, func(t *testing.T) {
			check(t, windowsSystem(registry(t, head+profile+tc.reg)), map[string]string{"collector.example.com:7443": tc.want})
		})
	}
}

// prefs is a macOS network preferences file whose one active service has
// the given Proxies dictionary (plist XML).
func prefs(proxies string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>
<key>CurrentSet</key><string>/Sets/S</string>
<key>NetworkServices</key><dict><key>W</key><dict><key>Proxies</key><dict>` + proxies + `</dict></dict></dict>
<key>Sets</key><dict><key>S</key><dict><key>Network</key><dict><key>Global</key><dict><key>IPv4</key><dict>
<key>ServiceOrder</key><array><string>W</string></array></dict></dict></dict></dict></dict>
</dict></plist>`)
}

func TestDarwinSystem(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "macos", "preferences.plist"))
	if err != nil {
		t.Fatal(err)
	}
	// The inactive USB adapter comes first in the service order: Wi-Fi's
	// settings count.
	check(t, darwinSystem(b, nil), map[string]string{
		"collector.example.com:7443": "http://proxy.corp.example:3128; proxy from HTTPSProxy in SystemConfiguration preferences",
		"169.254.10.20:7443":         "DIRECT; no proxy: exempt by ExceptionsList in SystemConfiguration preferences",
		"printer.local:7443":         "DIRECT; no proxy: exempt by ExceptionsList in SystemConfiguration preferences",
	})
	pac := prefs(`<key>ProxyAutoConfigEnable</key><integer>1</integer><key>ProxyAutoConfigURLString</key><string>http://wpad/proxy.pac</string>
<key>HTTPSEnable</key><integer>0</integer><key>HTTPSProxy</key><string>off.example</string><key>HTTPSPort</key><integer>1</integer>`)
	check(t, darwinSystem(pac, nil), map[string]string{
		"collector.example.com:7443": "DIRECT; PAC configured (ProxyAutoConfigURLString in SystemConfiguration preferences: http://wpad/proxy.pac); not supported, set a proxy in agent.yaml",
	})
	s := darwinSystem(nil, errors.New("open /Library/Preferences/SystemConfiguration/preferences.plist: permission denied"))
	if len(s.Problems) != 1 || !strings.HasPrefix(s.Problems[0], "SystemConfiguration preferences: open ") {
		t.Errorf("problems %q", s.Problems)
	}
	check(t, s, map[string]string{"collector.example.com:7443": "DIRECT; no proxy configured"})
	// A configuration with no service to follow says so.
	s = darwinSystem([]byte(`<plist version="1.0"><dict><key>CurrentSet</key><string>/Sets/none</string></dict></plist>`), nil)
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "no active network service of the current set has proxy settings") {
		t.Errorf("problems %q", s.Problems)
	}
}

func TestBypassed(t *testing.T) {
	for _, tc := range []struct {
		list, target string
		want         bool
	}{
		{"<local>", "collector:7443", true},
		{"<local>", "collector.example.com:7443", false},
		{"<local>", "10.0.0.1:7443", false},
		{"*.corp.example", "a.b.corp.example:7443", true},
		{"*.corp.example", "corp.example:7443", false},
		{"*.CORP.example", "A.corp.EXAMPLE.:7443", true},
		{"10.*", "10.1.2.3:7443", true},
		{"10.*", "110.1.2.3:7443", false},
		{"192.168.*.5", "192.168.7.5:7443", true},
		{"*corp*", "mycorphost:7443", true},
		{".corp.example", "x.corp.example:7443", true},
		{"collector.example.com", "collector.example.com:7443", true},
		{"collector.example.com", "xcollector.example.com:7443", false},
		{"collector.example.com:443", "collector.example.com:7443", false},
		{"collector.example.com:7443", "collector.example.com:7443", true},
		{"https://collector.example.com", "collector.example.com:7443", true},
		{"169.254/16", "169.254.3.4:7443", true},
		{"169.254/16", "169.255.3.4:7443", false},
		{"10.0.0.0/8", "10.9.9.9:7443", true},
		{"2001:db8::/32", "[2001:db8::5]:7443", true},
		{"2001:db8::5", "[2001:db8:0::5]:7443", true},
		{"[2001:db8::5]:7443", "[2001:db8::5]:7443", true},
		{"a.example; b.example, c.example d.example", "c.example:7443", true},
		{"", "c.example:7443", false},
		{"bad/prefix", "10.0.0.1:7443", false},
	} {
		host, port, _ := splitTarget(tc.target)
		if got := bypassed(tc.list, host, port); got != tc.want {
			t.Errorf("%q exempts %s: %v, want %v", tc.list, tc.target, got, tc.want)
		}
	}
}

package sysproxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// fixtures is the proxy probe's fixture folder, which this package's
// parsing is checked against too.
var fixtures = filepath.Join("..", "..", "probe", "testdata", "proxy")

func readFixture(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{fixtures}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brief is a Setting in one line, for comparisons.
func brief(s []Setting) []string {
	var out []string
	for _, x := range s {
		on := "on"
		if !x.Enabled {
			on = "off"
		}
		out = append(out, strings.Join([]string{x.Source, x.User, x.Name, x.Kind, x.Value, on}, "|"))
	}
	return out
}

func TestShell(t *testing.T) {
	got := brief(Shell("f", []byte("PATH=/bin\nexport https_proxy='http://p:1' NO_PROXY=.corp # http_proxy=x\nHTTP_PROXY=\"a b\"; ftp_proxy=f\\ g\n")))
	want := []string{"f||https_proxy|https|http://p:1|on", "f||NO_PROXY|bypass|.corp|on", "f||HTTP_PROXY|http|a b|on", "f||ftp_proxy|ftp|f g|on"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSystemd(t *testing.T) {
	got := brief(Systemd("s", readFixture(t, "laptop", "root", "etc", "systemd", "system.conf.d", "10-proxy.conf")))
	want := []string{
		"s||DefaultEnvironment: HTTP_PROXY|http|http://jdoe:Winter2024!@proxy.corp.example:3128|on",
		"s||DefaultEnvironment: NO_PROXY|bypass|localhost,.corp.example|on",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// Outside [Manager], and in commented lines, nothing counts.
	if s := Systemd("s", []byte("[Unit]\nDefaultEnvironment=https_proxy=x\n[Manager]\n#DefaultEnvironment=https_proxy=y\n")); len(s) != 0 {
		t.Errorf("got %q", brief(s))
	}
}

func TestScutil(t *testing.T) {
	s, err := Scutil(readFixture(t, "macos", "scutil.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"scutil --proxy||HTTPProxy|http|proxy.corp.example:3128|on",
		"scutil --proxy||HTTPSProxy|https|proxy.corp.example:3128|on",
		"scutil --proxy||ExceptionsList|bypass|*.local, 169.254/16, *.corp.example|on",
		"scutil --proxy||ProxyAutoConfigURLString|pac|http://wpad.corp.example/proxy.pac|off",
	}
	if got := brief(s); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	s, err = Scutil([]byte("<dictionary> {\n  ExcludeSimpleHostnames : 1\n  HTTPSProxy : ::1\n  HTTPSPort : 8080\n  ProxyAutoDiscoveryEnable : 1\n}\n"))
	want = []string{
		"scutil --proxy||HTTPSProxy|https|[::1]:8080|off",
		"scutil --proxy||ExcludeSimpleHostnames|bypass|<local>|on",
		"scutil --proxy||ProxyAutoDiscoveryEnable|auto-detect|on|on",
	}
	if got := brief(s); err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	for _, bad := range []string{"}\n", "<dictionary> {\n", strings.Repeat("a {\n", maxScutilDepth+1)} {
		if _, err := Scutil([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestWindows(t *testing.T) {
	reg, err := winreg.ParseExport(readFixture(t, "windows", "registry.reg"))
	if err != nil {
		t.Fatal(err)
	}
	s, errs := Windows(reg)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	const jdoe = `HKU\S-1-5-21-3623811015-3361044348-30300820-1001\` + inetSettings
	const asmith = `HKU\S-1-5-21-3623811015-3361044348-30300820-1002\` + inetSettings
	want := []string{
		jdoe + "|jdoe|ProxyServer|http|proxy.corp.example:8080|on",
		jdoe + "|jdoe|ProxyServer|https|proxy.corp.example:8080|on",
		jdoe + "|jdoe|ProxyOverride|bypass|<local>;*.corp.example|on",
		jdoe + "|jdoe|AutoConfigURL|pac|http://wpad.corp.example/proxy.pac|on",
		jdoe + `\Connections|jdoe|DefaultConnectionSettings|auto-detect|on|on`,
		asmith + "|asmith|ProxyServer|all|bob:hunter2@10.0.0.9:3128|off",
		"WinHTTP||ProxyServer|all|proxy.corp.example:8080|on",
		"WinHTTP||ProxyBypass|bypass|<local>;*.corp.example|on",
	}
	if got := brief(s); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestConnectionSettings(t *testing.T) {
	for _, tc := range []struct {
		blob []byte
		err  string
	}{
		{[]byte{1, 2, 3}, "fewer than the 12"},
		{blob(0x18, connProxy), "cut before a string's length"},
		{append(blob(0x18, connProxy), 9, 0, 0, 0, 'a'), "a string of 9 bytes in 1"},
	} {
		if _, err := parseConnectionSettings(tc.blob); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%x: %v, want %q", tc.blob, err, tc.err)
		}
	}
	c, err := parseConnectionSettings(blob(0x46, connProxy|connAutoURL, "p:1", "<local>", "http://w/p.pac\x00junk"))
	if err != nil || c.Proxy != "p:1" || c.Bypass != "<local>" || c.AutoURL != "http://w/p.pac" || c.Flags != connProxy|connAutoURL {
		t.Errorf("%+v, %v", c, err)
	}
	if c, err := parseConnectionSettings(blob(0x18, connDirect, "", "")); err != nil || c.AutoURL != "" {
		t.Errorf("WinHTTP's blob without an auto-config URL: %+v, %v", c, err)
	}
	if got := brief(proxyServers("k", "", "n", strings.Repeat("a:1;", 20), true)); len(got) != maxServers {
		t.Errorf("%d servers kept, want %d", len(got), maxServers)
	}
	if got := brief(proxyServers("k", "", "n", "gopher=g:70; HTTPS=h:1", true)); !slices.Equal(got, []string{"k||n|all|g:70|on", "k||n|https|h:1|on"}) {
		t.Errorf("got %q", got)
	}
}

// blob builds a connection settings blob.
func blob(version, flags uint32, strs ...string) []byte {
	b := le32(nil, version)
	b = le32(b, 7)
	b = le32(b, flags)
	for _, s := range strs {
		b = le32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func le32(b []byte, v uint32) []byte { return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }

package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseProxy(t *testing.T) {
	for _, tc := range []struct{ yaml, err string }{
		{"proxy: http://proxy.corp.example:3128\n", ""},
		{"proxy: https://u:p@proxy.corp.example:443\nno_proxy: [.corp.example, 10.0.0.0/8, 'collector:7443', '*']\n", ""},
		{"proxy: http://u@p:3128\nproxy_password_file: /etc/sonde-agent/proxy-password\n", ""},
		{"no_proxy: .corp.example, 10.0.0.0/8\n", ""},
		{"proxy: proxy.corp.example:3128\n", "write the scheme: http://proxy.corp.example:3128"},
		{"proxy: http://proxy.corp.example\n", "give the port"},
		{"proxy: socks5://p:1080\n", "SOCKS proxy: not supported"},
		{"proxy: http://p:3128/proxy.pac\n", "has a path"},
		{"proxy: http://p:3128\nproxy_password_file: pw\n", "proxy_password_file needs the user in proxy"},
		{"proxy: http://u:inline@p:3128\nproxy_password_file: pw\n", "keep one"},
		{"proxy_password_file: pw\n", "proxy_password_file is set but proxy is not"},
		{"no_proxy: ['a b']\n", "no_proxy[0]"},
		{"no_proxy: ['']\n", "no_proxy[0]"},
		{"no_proxy: {a: b}\n", "decoding a host list"},
		{"no_proxy: [" + strings.Repeat("a,", MaxNoProxy) + "a]\n", "at most 64"},
		{"proxy: [a]\n", "cannot unmarshal"},
	} {
		_, err := Parse([]byte(tc.yaml))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "inline") {
			t.Errorf("%q: the password in the error: %v", tc.yaml, err)
		}
	}
	c, err := Parse([]byte("no_proxy: ' .corp.example , 10.0.0.0/8,'\n"))
	if err != nil || !slices.Equal(c.NoProxy, []string{".corp.example", "10.0.0.0/8"}) {
		t.Errorf("comma-separated no_proxy: %q, %v", c.NoProxy, err)
	}
}

func TestProxyURL(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.yaml")
	writeFile(t, conf, "proxy: http://sonde@proxy.corp.example:3128\nproxy_password_file: proxy-password\n", 0o644)

	// The password file is relative to agent.yaml, and must be there.
	if _, err := Load(conf); err == nil || !strings.Contains(err.Error(), "proxy_password_file") || !strings.Contains(err.Error(), conf) {
		t.Errorf("missing password file: %v", err)
	}
	pw := filepath.Join(dir, "proxy-password")
	writeFile(t, pw, "s3cr:et@/x\r\nignored\n", 0o600)
	c, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.ProxyURL()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.User.Password(); got != "s3cr:et@/x" || u.User.Username() != "sonde" || u.Host != "proxy.corp.example:3128" {
		t.Errorf("proxy %s, password %q", u.Redacted(), got)
	}
	// A changed password is read at the next dial.
	writeFile(t, pw, "rotated\n", 0o600)
	if u, _ := c.ProxyURL(); u == nil || u.String() != "http://sonde:rotated@proxy.corp.example:3128" {
		t.Errorf("after rotation: %v", u)
	}
	// A file every user may read is refused; so is an empty one.
	writeFile(t, pw, "rotated\n", 0o644)
	if _, err := c.ProxyURL(); err == nil || !strings.Contains(err.Error(), "readable by every user") {
		t.Errorf("world-readable password file: %v", err)
	}
	writeFile(t, pw, "\nsecond line\n", 0o600)
	if _, err := c.ProxyURL(); err == nil || !strings.Contains(err.Error(), "first line is empty") {
		t.Errorf("empty password: %v", err)
	}

	// No proxy: nil. A password in the URL is kept.
	if u, err := (&Config{}).ProxyURL(); u != nil || err != nil {
		t.Errorf("no proxy: %v, %v", u, err)
	}
	if u, err := (&Config{Proxy: "http://u:p@h:1"}).ProxyURL(); err != nil || u.String() != "http://u:p@h:1" {
		t.Errorf("inline password: %v, %v", u, err)
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

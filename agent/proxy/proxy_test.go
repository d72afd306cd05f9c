package proxy

import (
	"net/url"
	"strings"
	"testing"
)

// env is an environment for Settings.Getenv.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// resolved is Resolve's answer in one line: the proxy (or DIRECT) and
// the source's sentence.
func resolved(t *testing.T, target string, cfg Settings) string {
	t.Helper()
	u, src, err := Resolve(target, cfg)
	if err != nil {
		return "error: " + err.Error()
	}
	if u == nil {
		return "DIRECT; " + src.String()
	}
	return u.String() + "; " + src.String()
}

func TestResolve(t *testing.T) {
	cfgProxy, _ := url.Parse("http://agent:pw@proxy.corp.example:3128")
	system := darwinSystem(prefs(`<key>HTTPSEnable</key><integer>1</integer><key>HTTPSProxy</key><string>sys.example</string><key>HTTPSPort</key><integer>8080</integer>`), nil)
	const target = "collector.example.com:7443"
	for _, tc := range []struct {
		name   string
		target string
		cfg    Settings
		want   string
	}{
		{"nothing configured", target, Settings{Getenv: env()}, "DIRECT; no proxy configured"},
		{"agent.yaml first", target, Settings{Proxy: cfgProxy, Getenv: env("HTTPS_PROXY", "http://env:1"), System: system},
			"http://agent:pw@proxy.corp.example:3128; proxy from proxy in agent.yaml"},
		{"agent.yaml's no_proxy exempts from every source", target, Settings{Proxy: cfgProxy, NoProxy: []string{".example.com"}, Getenv: env("HTTPS_PROXY", "http://env:1"), System: system},
			"DIRECT; no proxy: exempt by no_proxy in agent.yaml"},
		{"no_proxy * exempts all", target, Settings{NoProxy: []string{"*"}, Getenv: env("HTTPS_PROXY", "http://env:1")},
			"DIRECT; no proxy: exempt by no_proxy in agent.yaml"},
		{"no_proxy with a port", target, Settings{Proxy: cfgProxy, NoProxy: []string{"collector.example.com:443"}},
			"http://agent:pw@proxy.corp.example:3128; proxy from proxy in agent.yaml"},
		{"no_proxy CIDR", "10.1.2.3:7443", Settings{Proxy: cfgProxy, NoProxy: []string{"10.0.0.0/8"}},
			"DIRECT; no proxy: exempt by no_proxy in agent.yaml"},
		{"environment before the system", target, Settings{Getenv: env("HTTPS_PROXY", "env.example:3128"), System: system},
			"http://env.example:3128; proxy from HTTPS_PROXY in the environment"},
		{"lower case first, as httpproxy", target, Settings{Getenv: env("HTTPS_PROXY", "http://upper:1", "https_proxy", "http://lower:2")},
			"http://lower:2; proxy from https_proxy in the environment"},
		{"ALL_PROXY after HTTPS_PROXY", target, Settings{Getenv: env("ALL_PROXY", "http://all:1")},
			"http://all:1; proxy from ALL_PROXY in the environment"},
		{"HTTP_PROXY is for plain HTTP", target, Settings{Getenv: env("HTTP_PROXY", "http://plain:1")},
			"DIRECT; no proxy configured"},
		{"NO_PROXY domain", target, Settings{Getenv: env("HTTPS_PROXY", "http://p:1", "NO_PROXY", "localhost,example.com")},
			"DIRECT; no proxy: exempt by NO_PROXY in the environment"},
		{"no_proxy leading dot", target, Settings{Getenv: env("HTTPS_PROXY", "http://p:1", "no_proxy", ".example.com")},
			"DIRECT; no proxy: exempt by no_proxy in the environment"},
		{"NO_PROXY other domain", target, Settings{Getenv: env("HTTPS_PROXY", "http://p:1", "NO_PROXY", ".corp.example,10.0.0.0/8")},
			"http://p:1; proxy from HTTPS_PROXY in the environment"},
		{"NO_PROXY does not exempt from agent.yaml's proxy", target, Settings{Proxy: cfgProxy, Getenv: env("NO_PROXY", "*")},
			"http://agent:pw@proxy.corp.example:3128; proxy from proxy in agent.yaml"},
		{"https proxy, default port", target, Settings{Getenv: env("HTTPS_PROXY", "https://tls-proxy.example")},
			"https://tls-proxy.example:443; proxy from HTTPS_PROXY in the environment"},
		{"SOCKS in the environment", target, Settings{Getenv: env("ALL_PROXY", "socks5://u:secret@s:1080")},
			"DIRECT; a SOCKS proxy configured (ALL_PROXY in the environment: socks5://u:xxxxx@s:1080); not supported, set an HTTP proxy in agent.yaml"},
		{"a broken environment is an error", target, Settings{Getenv: env("HTTPS_PROXY", "http://p:1/wpad.dat")},
			"error: the environment's HTTPS_PROXY: has a path: a proxy URL has none (a PAC file's URL is not a proxy, and PAC is not supported)"},
		{"the system last", target, Settings{Getenv: env(), System: system},
			"http://sys.example:8080; proxy from HTTPSProxy in SystemConfiguration preferences"},
		{"loopback never", "127.0.0.1:7443", Settings{Proxy: cfgProxy}, "DIRECT; no proxy: exempt by a loopback target"},
		{"localhost never", "localhost:7443", Settings{Proxy: cfgProxy}, "DIRECT; no proxy: exempt by a loopback target"},
		{"IPv6 loopback never", "[::1]:7443", Settings{Proxy: cfgProxy}, "DIRECT; no proxy: exempt by a loopback target"},
		{"bad target", "collector", Settings{}, `error: finding the proxy for "collector": not host:port: address collector: missing port in address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolved(t, tc.target, tc.cfg); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestResolveProcessEnv(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://from-process:3128")
	t.Setenv("NO_PROXY", "")
	if got := resolved(t, "collector.example.com:7443", Settings{}); got != "http://from-process:3128; proxy from HTTPS_PROXY in the environment" {
		t.Errorf("got %s", got)
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]string{
		"proxy:3128":                    "http://proxy:3128",
		" http://proxy:3128/ ":          "http://proxy:3128",
		"HTTP://Proxy.Example:3128":     "http://Proxy.Example:3128",
		"http://u:p%40ss@proxy:3128":    "http://u:p%40ss@proxy:3128",
		"u:pw@10.0.0.9:3128":            "http://u:pw@10.0.0.9:3128",
		"http://[2001:db8::1]:3128":     "http://[2001:db8::1]:3128",
		"https://proxy":                 "https://proxy:443",
		"http://proxy":                  "http://proxy:80",
		"":                              "error: empty",
		"$http_proxy":                   "error: holds a shell variable or command, which is not expanded",
		"ftp://proxy:21":                `error: scheme "ftp": a proxy is http:// or https://`,
		"socks5h://proxy:1080":          "error: a SOCKS proxy: not supported, only HTTP proxies (http:// or https://)",
		"http://:3128":                  "error: no host",
		"http://proxy:0":                `error: port "0" is not a number from 1 to 65535`,
		"http://proxy:99999":            `error: port "99999" is not a number from 1 to 65535`,
		"http://proxy:3128/proxy.pac":   "error: has a path: a proxy URL has none (a PAC file's URL is not a proxy, and PAC is not supported)",
		"http://proxy:3128/?x=1":        "error: has a path: a proxy URL has none (a PAC file's URL is not a proxy, and PAC is not supported)",
		"http://u:secret@proxy:31%zz28": `error: not a URL: invalid port ":31%zz28" after host`,
		"http://u:sec%zzret@proxy:3128": `error: not a URL: invalid URL escape "%zz"`,
		strings.Repeat("a", 3000):       "error: longer than 2048 bytes",
	} {
		u, err := ParseURL(in)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = u.String()
		}
		if got != want {
			t.Errorf("%.40q: got %s, want %s", in, got, want)
		}
	}
}

package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/agent/probe/winreg"
	"github.com/sondehq/sonde/agent/proxy/sysproxy"
)

func init() {
	// Linux reads a few dozen small files and Windows the registry: a
	// default probe. macOS has its settings only through scutil, a tool,
	// so there it is heavy and runs when named.
	Register("proxy", Spec{Heavy: runtime.GOOS == "darwin", Platforms: Everywhere}, func() Probe {
		return &proxyProbe{goos: runtime.GOOS, reg: winreg.Live(), run: runTool}
	})
}

// proxyProbe reports the proxy settings the machine is configured with,
// wherever the platform keeps them, each as written (scrubbed of
// credentials) and checked for what would break it. It reads settings;
// it never connects to a proxy.
type proxyProbe struct {
	goos string
	reg  winreg.Reader
	run  toolRunner
	// etc keeps what linuxProxies read while its files are unchanged.
	etc fileMemo[linuxProxyRead]
}

// linuxProxyRead is what linuxProxies read: the settings as the files
// hold them (Collect checks and scrubs them at every call), and what it
// said in its result.
type linuxProxyRead struct {
	settings        []ProxySetting
	errors, notRead []string
}

// Bounds of the proxy probe.
const (
	maxProxySettings = 64
	maxProxyFile     = 256 << 10
	maxProxyDirFiles = 64
	maxProxyValue    = 512
)

// ProxyResult is the proxy probe's result; no proxy is an empty list.
type ProxyResult struct {
	Settings     []ProxySetting `json:"settings"`
	SettingsLeft int            `json:"settings_left_off,omitempty"`
	// NotRead names the places settings may also be kept that the probe
	// does not read, so that an empty list is not read as "no proxy".
	NotRead []string `json:"not_read,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// ProxySetting is one proxy setting as written (read by package sysproxy,
// which the agent's own connection shares), with what the probe found of
// its value.
type ProxySetting struct {
	sysproxy.Setting
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	// Credentials says the value carried a user name or password.
	Credentials bool `json:"credentials_in_value,omitempty"`
	// Problem says why the value would not work as written.
	Problem string `json:"problem,omitempty"`
}

// proxySettings wraps what package sysproxy read.
func proxySettings(in []sysproxy.Setting) []ProxySetting {
	out := make([]ProxySetting, len(in))
	for i, s := range in {
		out[i] = ProxySetting{Setting: s}
	}
	return out
}

func (p *proxyProbe) Name() string { return "proxy" }

func (p *proxyProbe) Collect(ctx context.Context, env *Env) (any, error) {
	r := &ProxyResult{Settings: []ProxySetting{}}
	var raw []ProxySetting
	switch p.goos {
	case "linux":
		got := p.etc.get(ctx, func(ctx context.Context) linuxProxyRead {
			var lr ProxyResult
			raw := linuxProxies(ctx, &lr)
			return linuxProxyRead{raw, lr.Errors, lr.NotRead}
		})
		raw, r.NotRead = got.settings, got.notRead
		r.Errors = append(r.Errors, got.errors...)
	case "windows":
		settings, errs := sysproxy.Windows(p.reg)
		raw = proxySettings(settings)
		for _, err := range errs {
			r.Errors = append(r.Errors, err.Error())
		}
		r.NotRead = []string{"accounts that are not logged on (their registry hives are not loaded)", "browsers' own settings (Firefox)"}
	case "darwin":
		if env.Health {
			return nil, errHealthTool
		}
		out, _, err := p.run(ctx, 64<<10, "scutil", "--proxy")
		if err != nil {
			return nil, fmt.Errorf("asking scutil: %w", err)
		}
		settings, err := sysproxy.Scutil(out)
		raw = proxySettings(settings)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
		r.NotRead = []string{"per-service settings of inactive network services", "per-user and per-app proxies (browsers' own settings)"}
	default:
		return nil, notAvailable("no proxy reader for %s", p.goos)
	}
	for _, s := range raw {
		if len(r.Settings) == maxProxySettings {
			r.SettingsLeft++
			continue
		}
		r.Settings = append(r.Settings, finishProxy(s, env))
	}
	return r, nil
}

// finishProxy checks a setting's value, then scrubs it and bounds its
// strings.
func finishProxy(s ProxySetting, env *Env) ProxySetting {
	pw := checkProxy(&s)
	v := env.Scrub(s.Value, "proxy")
	if pw != "" && strings.Contains(v, pw) {
		// Credentials the shared rules did not recognise (no scheme):
		// the value does not leave the machine.
		v = withheldValue
	}
	s.Value = cleanText(v, maxProxyValue)
	s.Source = cleanText(s.Source, 256)
	s.User = cleanText(s.User, 64)
	s.Name = cleanText(s.Name, 128)
	s.Host = cleanText(s.Host, 255)
	return s
}

// withheldValue replaces a value whose password the shared rules did not
// recognise.
const withheldValue = "[withheld: it holds a password]"

// proxySchemes are the URL schemes of a proxy that curl, apt and most
// tools understand.
var proxySchemes = map[string]bool{"http": true, "https": true, "socks4": true, "socks4a": true, "socks5": true, "socks5h": true, "socks": true}

// checkProxy fills s's host, port, credentials and problem from its value,
// and returns the password the value holds, if any.
func checkProxy(s *ProxySetting) (password string) {
	v := strings.TrimSpace(s.Value)
	switch s.Kind {
	case "bypass", "auto-detect":
		return ""
	case "pac":
		u, err := url.Parse(v)
		switch {
		case v == "":
			s.Problem = "empty"
		case err != nil:
			s.Problem = "not a URL"
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file":
			s.Problem = fmt.Sprintf("scheme %q: a PAC file is fetched over http, https or file", cleanText(u.Scheme, 16))
		}
		return ""
	}
	switch {
	case v == "":
		s.Problem = "empty"
		return ""
	case strings.EqualFold(v, "DIRECT"):
		return "" // APT's way of saying no proxy
	case strings.ContainsAny(v, "$`"):
		s.Problem = "holds a variable or command, which the probe does not expand"
		return ""
	}
	hostport := v
	if i := strings.Index(v, "://"); i >= 0 {
		u, err := url.Parse(v)
		if err != nil {
			s.Problem = "not a URL"
			if at := strings.LastIndex(v, "@"); at > i {
				s.Credentials = true
				_, password, _ = strings.Cut(v[i+3:at], ":")
			}
			return password
		}
		if u.User != nil {
			s.Credentials = true
			password, _ = u.User.Password()
		}
		if !proxySchemes[strings.ToLower(u.Scheme)] {
			s.Problem = fmt.Sprintf("scheme %q is not a proxy scheme", cleanText(u.Scheme, 16))
		}
		hostport = u.Host
	} else if at := strings.LastIndex(v, "@"); at >= 0 {
		s.Credentials = true
		_, password, _ = strings.Cut(v[:at], ":")
		hostport = v[at+1:]
	}
	hostport = strings.TrimSuffix(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		s.Host = strings.Trim(hostport, "[]")
		if s.Problem == "" {
			s.Problem = "no port: tools disagree on the default (curl uses 1080, others 80 or 8080)"
		}
	} else {
		s.Host = host
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			if s.Problem == "" {
				s.Problem = fmt.Sprintf("port %q is not a number from 1 to 65535", cleanText(port, 16))
			}
		} else {
			s.Port = int(n)
		}
	}
	if s.Host == "" && s.Problem == "" {
		s.Problem = "no host"
	}
	return password
}

// linuxProxies reads the system-wide settings: /etc/environment,
// /etc/profile.d/*.sh, APT's configuration and systemd's default
// environment for services, through the trace functions of filememo.go,
// so that the probe keeps what it read while none of those files changes.
func linuxProxies(ctx context.Context, r *ProxyResult) []ProxySetting {
	var out []ProxySetting
	fail := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	etc := func(parts ...string) string { return Path(ctx, common.HostEtcEnvKey, parts...) }
	read := func(path string, parse func(source string, b []byte) ([]ProxySetting, error)) {
		b, truncated, err := traceRead(ctx, path, maxProxyFile)
		if err != nil {
			fail(err)
			return
		}
		if truncated {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: read its first %d bytes only", path, maxProxyFile))
		}
		s, err := parse(displayPath(ctx, path), b)
		out = append(out, s...)
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", displayPath(ctx, path), err))
		}
	}
	readDir := func(dir string, keep func(string) bool, parse func(string, []byte) ([]ProxySetting, error)) {
		names, left, err := traceList(ctx, dir, "", 4*maxProxyDirFiles)
		if err != nil {
			fail(err)
			return
		}
		n := 0
		for _, name := range names {
			if !keep(name) {
				continue
			}
			if n++; n > maxProxyDirFiles {
				left++
				continue
			}
			read(dir+"/"+name, parse)
		}
		if left > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %d files not read", displayPath(ctx, dir), left))
		}
	}
	read(etc("environment"), shellProxies)
	readDir(etc("profile.d"), func(n string) bool { return strings.HasSuffix(n, ".sh") }, shellProxies)
	read(etc("apt", "apt.conf"), aptProxies)
	readDir(etc("apt", "apt.conf.d"), aptPart, aptProxies)
	read(etc("systemd", "system.conf"), systemdProxies)
	readDir(etc("systemd", "system.conf.d"), func(n string) bool { return strings.HasSuffix(n, ".conf") }, systemdProxies)
	r.NotRead = []string{
		"GNOME and KDE proxy settings (GNOME's dconf database is binary)",
		"per-user shell files (~/.profile, ~/.bashrc)",
		"browsers' own settings",
	}
	return out
}

// displayPath shows a host path as the host sees it, without the root a
// test points the probe at.
func displayPath(ctx context.Context, path string) string {
	root := Path(ctx, common.HostRootEnvKey)
	if root != "/" && strings.HasPrefix(path, root) {
		return "/" + strings.TrimLeft(strings.TrimPrefix(path, root), "/")
	}
	return path
}

// shellProxies reads the proxy variables of a shell or pam_env file.
func shellProxies(source string, b []byte) ([]ProxySetting, error) {
	return proxySettings(sysproxy.Shell(source, b)), nil
}

// systemdProxies reads the proxy variables systemd passes to every
// service.
func systemdProxies(source string, b []byte) ([]ProxySetting, error) {
	return proxySettings(sysproxy.Systemd(source, b)), nil
}

// aptProxies reads APT's proxy settings: Acquire::<protocol>::Proxy, its
// per-host form Acquire::<protocol>::Proxy::<host>, and
// Acquire::<protocol>::Proxy-Auto-Detect (a program that prints a proxy).
func aptProxies(source string, b []byte) ([]ProxySetting, error) {
	entries, err := parseAptConf(b)
	var out []ProxySetting
	for _, e := range entries {
		parts := strings.Split(e.Key, "::")
		if len(parts) < 3 || !strings.EqualFold(parts[0], "Acquire") {
			continue
		}
		proto := strings.ToLower(parts[1])
		switch opt := strings.ToLower(parts[2]); {
		case opt == "proxy":
			kind := proto
			if _, ok := map[string]bool{"http": true, "https": true, "ftp": true}[proto]; !ok {
				continue
			}
			out = append(out, ProxySetting{Setting: sysproxy.Setting{Source: source, Name: e.Key, Kind: kind, Value: e.Value, Enabled: true}})
		case opt == "proxy-auto-detect" || opt == "proxyautodetect":
			out = append(out, ProxySetting{Setting: sysproxy.Setting{Source: source, Name: e.Key, Kind: sysproxy.KindAutoDetect, Value: e.Value, Enabled: true}})
		}
	}
	return out, err
}

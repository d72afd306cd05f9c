package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/sondehq/sonde/agent/proxy/sysproxy"
	"github.com/sondehq/sonde/internal/safetext"
)

// System is the operating system's proxy configuration, as LoadSystem
// read it: read once at start, and again when the network changes, so
// that no dial reads a file, the registry or runs a tool. Resolve
// consults it last.
//
// What each platform gives (the same places the proxy probe reports):
//
//   - Linux: the proxy variables of systemd's DefaultEnvironment (in
//     /etc/systemd/system.conf and system.conf.d/*.conf, what services
//     get), then of /etc/environment (pam_env, login sessions), then of
//     /etc/profile.d/*.sh (login shells): https_proxy, HTTPS_PROXY,
//     all_proxy, ALL_PROXY with no_proxy, NO_PROXY, as in the
//     environment. Not read: APT's proxy (often a package cache that
//     allows no CONNECT), GNOME's and KDE's per-user settings, and
//     per-user shell files.
//   - Windows: WinHTTP's proxy (`netsh winhttp set proxy`, what services
//     use), then the machine's Internet Settings where a policy makes
//     them per machine, then each logged-on user's Internet Settings
//     (ProxyEnable, ProxyServer's https= or all-protocol entry,
//     ProxyOverride with <local> and wildcards). Not read: accounts that
//     are not logged on.
//   - macOS: the SystemConfiguration preferences file (the settings of the
//     current set's first active network service in its service order,
//     read as a file, no tool run): HTTPSProxy and HTTPSPort when
//     HTTPSEnable is 1, ExceptionsList and ExcludeSimpleHostnames.
//
// PAC URLs (AutoConfigURL, ProxyAutoConfigURLString) and WPAD
// auto-detection are not evaluated: Resolve reports them when no static
// proxy is configured, and goes direct.
type System struct {
	rules []rule
	// Problems lists the settings that could not be read or used (a value
	// that is not a URL, a file that could not be read), for the log.
	Problems []string
}

// rule is one consistent place of settings (a file's variables, a
// user's Internet Settings, WinHTTP), compiled by LoadSystem for Resolve.
type rule struct {
	proxy        *url.URL
	proxySetting string
	exempt       func(host, port string) bool
	bypass       string // the setting of exempt
	// Set when this place configures what Resolve cannot follow.
	pac, socks                        string
	pacSetting, socksSetting, wpadSet string
}

// resolve returns the first place's proxy, or why there is none.
func (s *System) resolve(host, port string) (*url.URL, Source) {
	for _, r := range s.rules {
		if r.proxy == nil {
			continue
		}
		if r.exempt != nil && r.exempt(host, port) {
			return nil, Source{Origin: OriginSystem, Setting: r.bypass, Exempt: true}
		}
		return r.proxy, Source{Origin: OriginSystem, Setting: r.proxySetting}
	}
	for _, pick := range []func(r rule) (Source, bool){
		func(r rule) (Source, bool) {
			return Source{Origin: OriginSystem, Setting: r.pacSetting, Unsupported: UnsupportedPAC, Value: r.pac}, r.pacSetting != ""
		},
		func(r rule) (Source, bool) {
			return Source{Origin: OriginSystem, Setting: r.socksSetting, Unsupported: UnsupportedSOCKS, Value: r.socks}, r.socksSetting != ""
		},
		func(r rule) (Source, bool) {
			return Source{Origin: OriginSystem, Setting: r.wpadSet, Unsupported: UnsupportedWPAD}, r.wpadSet != ""
		},
	} {
		for _, r := range s.rules {
			if src, ok := pick(r); ok {
				return nil, src
			}
		}
	}
	return nil, Source{}
}

// Bounds of what LoadSystem keeps.
const (
	maxRules   = 64
	maxProblem = 256
)

func (s *System) problem(format string, args ...any) {
	if len(s.Problems) < maxRules {
		s.Problems = append(s.Problems, safetext.Clean(fmt.Sprintf(format, args...), maxProblem))
	}
}

func (s *System) add(r rule) {
	if len(s.rules) < maxRules {
		s.rules = append(s.rules, r)
	}
}

// settingName names a setting for a Source: its name and where it is
// kept.
func settingName(x sysproxy.Setting) string {
	name := x.Name + " in " + x.Source
	if x.User != "" && x.User != sysproxy.MachineUser {
		name += " (" + x.User + ")"
	}
	return safetext.Clean(name, maxProblem)
}

// proxyValue parses a system setting's value into the rule, or notes why
// it cannot.
func (s *System) proxyValue(r *rule, x sysproxy.Setting) {
	u, err := ParseURL(x.Value)
	switch {
	case errors.Is(err, errSOCKS):
		if r.socksSetting == "" {
			r.socksSetting, r.socks = settingName(x), safetext.Clean(redacted(x.Value), maxProblem)
		}
	case err != nil:
		s.problem("%s: %v", settingName(x), err)
	default:
		r.proxy, r.proxySetting = u, settingName(x)
	}
}

// envRule compiles settings written as environment variables (a Linux
// file, systemd's DefaultEnvironment): the last assignment of a name
// counts, and names are looked up as in the environment.
func (s *System) envRule(settings []sysproxy.Setting) {
	last := map[string]sysproxy.Setting{}
	for _, x := range settings {
		name := x.Name
		if _, after, ok := strings.Cut(name, ": "); ok {
			name = after // systemd's "DefaultEnvironment: https_proxy"
		}
		last[name] = x
	}
	var r rule
	for _, n := range envProxies {
		if x, ok := last[n]; ok && x.Value != "" {
			s.proxyValue(&r, x)
			break
		}
	}
	for _, n := range envNoProxy {
		if x, ok := last[n]; ok && x.Value != "" {
			r.exempt, r.bypass = exemptFunc(x.Value), settingName(x)
			break
		}
	}
	if r.proxy != nil || r.socksSetting != "" {
		s.add(r)
	}
}

// listRule compiles one place of Windows' or macOS' settings: enabled
// proxies by kind (https first, then one for all protocols), bypass lists
// in their own syntax (see bypassed), PAC and auto-detection.
func (s *System) listRule(settings []sysproxy.Setting) {
	var r rule
	var bypass []string
	for _, kind := range []string{sysproxy.KindHTTPS, sysproxy.KindAll} {
		for _, x := range settings {
			if r.proxy == nil && x.Enabled && x.Kind == kind {
				s.proxyValue(&r, x)
			}
		}
	}
	for _, x := range settings {
		if !x.Enabled {
			continue
		}
		switch x.Kind {
		case sysproxy.KindBypass:
			bypass = append(bypass, x.Value)
			if r.bypass == "" {
				r.bypass = settingName(x)
			}
		case sysproxy.KindSOCKS:
			if r.socksSetting == "" {
				r.socksSetting, r.socks = settingName(x), safetext.Clean(redacted(x.Value), maxProblem)
			}
		case sysproxy.KindPAC:
			if r.pacSetting == "" {
				r.pacSetting, r.pac = settingName(x), safetext.Clean(redacted(x.Value), maxProblem)
			}
		case sysproxy.KindAutoDetect:
			if r.wpadSet == "" {
				r.wpadSet = settingName(x)
			}
		}
	}
	if len(bypass) > 0 {
		list := strings.Join(bypass, ";")
		r.exempt = func(host, port string) bool { return bypassed(list, host, port) }
	}
	if r.proxy != nil || r.socksSetting != "" || r.pacSetting != "" || r.wpadSet != "" {
		s.add(r)
	}
}

// bypassed says whether a Windows or macOS bypass list exempts host:port.
// Entries are separated by ';', ',' or spaces: <local> (a name without a
// dot), a host name or address with '*' wildcards (*.corp.example,
// 10.*), .domain (its subdomains), a CIDR block (macOS also writes
// 169.254/16), each with an optional scheme:// and :port.
func bypassed(list, host, port string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip, ipErr := netip.ParseAddr(host)
	for _, e := range strings.FieldsFunc(strings.ToLower(list), func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\t' }) {
		if e == "<local>" {
			if ipErr != nil && !strings.Contains(host, ".") {
				return true
			}
			continue
		}
		if _, after, ok := strings.Cut(e, "://"); ok {
			e = after
		}
		if strings.Contains(e, "/") {
			if p, err := parsePrefix(e); err == nil && ipErr == nil && p.Contains(ip.Unmap()) {
				return true
			}
			continue
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if p != port && p != "*" {
				continue
			}
			e = h
		}
		e = strings.Trim(e, "[]")
		if a, err := netip.ParseAddr(e); err == nil {
			if ipErr == nil && a.Unmap() == ip.Unmap() {
				return true
			}
			continue
		}
		switch {
		case strings.Contains(e, "*"):
			if wildcard(e, host) {
				return true
			}
		case strings.HasPrefix(e, "."):
			if strings.HasSuffix(host, e) {
				return true
			}
		case e == host:
			return true
		}
	}
	return false
}

// parsePrefix parses a CIDR block, with macOS' short IPv4 form
// (169.254/16) padded with zeros.
func parsePrefix(s string) (netip.Prefix, error) {
	addr, bits, _ := strings.Cut(s, "/")
	if !strings.Contains(addr, ":") {
		for strings.Count(addr, ".") < 3 {
			addr += ".0"
		}
	}
	p, err := netip.ParsePrefix(addr + "/" + bits)
	if err != nil {
		return p, fmt.Errorf("bypass entry %q: %w", s, err)
	}
	return p.Masked(), nil
}

// wildcard matches s against pattern, where '*' stands for any run of
// characters (none included).
func wildcard(pattern, s string) bool {
	// The classic greedy match with one backtrack point: linear in
	// practice, never exponential.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

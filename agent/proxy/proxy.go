// Package proxy finds and goes through the HTTP proxy between the agent
// and its collector, for the TLS-over-TCP transport that the agent falls
// back to where UDP (QUIC) is blocked.
//
//   - Resolve picks the proxy for a collector address: agent.yaml's proxy
//     and no_proxy first, then HTTPS_PROXY, ALL_PROXY and NO_PROXY, then
//     the operating system's settings (LoadSystem, read once at start and
//     again when the network changes, never per dial).
//   - Dial opens a tunnel through it with HTTP CONNECT, with Basic
//     authentication when the proxy URL carries a user, and explains a
//     refusal in words the person who runs the proxy acts on.
//   - Intercepted tells, after a failed TLS handshake with the collector,
//     whether a TLS-inspecting proxy answered in its place, and names it
//     by its certificate's issuer. The agent never trusts such a proxy:
//     mutual TLS cannot pass one, so the collector must be exempted from
//     inspection.
//
// Not supported, and said so where they are met: PAC files and WPAD
// auto-detection (Resolve reports them and goes direct; set a proxy in
// agent.yaml), SOCKS proxies, and proxy authentication other than Basic
// (NTLM, Negotiate/Kerberos, Digest: Dial's error names what the proxy
// asks for).
package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/sondehq/sonde/internal/safetext"
)

// Settings are what Resolve decides from, besides the target. The zero
// Settings reads the process environment only.
type Settings struct {
	// Proxy is the proxy agent.yaml names (config.Config.ProxyURL), nil
	// when it names none. It serves every target that NoProxy does not
	// exempt, whatever the environment and the system say.
	Proxy *url.URL
	// NoProxy lists the targets agent.yaml exempts from any proxy, from
	// whichever source, each in NO_PROXY's syntax: a host name (which
	// covers its subdomains), .domain (subdomains only), an IP address or
	// CIDR block, each with an optional :port; "*" exempts every target.
	NoProxy []string
	// Getenv reads the environment; nil reads the process's (os.Getenv).
	Getenv func(string) string
	// System is the operating system's proxy settings (LoadSystem); nil
	// leaves them out.
	System *System
}

// Origin is where a Source's setting is kept.
type Origin string

// The origins of a Source, in Resolve's order of precedence.
const (
	OriginConfig Origin = "agent.yaml"
	OriginEnv    Origin = "environment"
	OriginSystem Origin = "system"
	// OriginNone: nothing configured a proxy for the target.
	OriginNone Origin = ""
)

// What Source.Unsupported names.
const (
	UnsupportedPAC   = "PAC"
	UnsupportedWPAD  = "WPAD"
	UnsupportedSOCKS = "SOCKS"
)

// Source says which setting decided Resolve's answer, so that the agent
// can log why it goes through a proxy or not.
type Source struct {
	Origin Origin
	// Setting names the setting and, for the system's, where it is kept:
	// "proxy", "no_proxy", "HTTPS_PROXY", "https_proxy in
	// /etc/environment", "ProxyServer in WinHTTP".
	Setting string
	// Exempt says Setting exempts the target from a proxy (no_proxy, a
	// bypass list, a loopback target): the connection goes direct.
	Exempt bool
	// Unsupported names a configuration Resolve saw and cannot follow:
	// UnsupportedPAC, UnsupportedWPAD or UnsupportedSOCKS. The connection
	// goes direct, which may well fail; String says what to do.
	Unsupported string
	// Value is, for Unsupported, what is configured (the PAC URL, the
	// SOCKS proxy), without credentials.
	Value string
}

// String says in a sentence what decided.
func (s Source) String() string {
	where := s.Setting
	if s.Origin == OriginEnv {
		where += " in the environment"
	} else if s.Origin == OriginConfig {
		where += " in agent.yaml"
	}
	switch {
	case s.Unsupported == UnsupportedPAC:
		return fmt.Sprintf("PAC configured (%s: %s); not supported, set a proxy in agent.yaml", where, s.Value)
	case s.Unsupported == UnsupportedWPAD:
		return fmt.Sprintf("proxy auto-detection (WPAD) configured (%s); not supported, set a proxy in agent.yaml if one is needed", where)
	case s.Unsupported == UnsupportedSOCKS:
		return fmt.Sprintf("a SOCKS proxy configured (%s: %s); not supported, set an HTTP proxy in agent.yaml", where, s.Value)
	case s.Exempt:
		return "no proxy: exempt by " + where
	case s.Origin == OriginNone:
		return "no proxy configured"
	}
	return "proxy from " + where
}

// envProxies are the variables of a proxy for a TLS connection, in order
// of precedence (lower case first, as golang.org/x/net/http/httpproxy and
// curl read them). HTTP_PROXY is for plain-HTTP requests and not read.
var envProxies = []string{"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}

// envNoProxy are the variables of the exemptions, in order of precedence.
var envNoProxy = []string{"no_proxy", "NO_PROXY"}

// Resolve returns the proxy to reach target (host:port) through, or nil
// to connect directly, and the setting that decided. In order:
//
//  1. a loopback target is never proxied;
//  2. agent.yaml's no_proxy exempts a target from any proxy;
//  3. agent.yaml's proxy;
//  4. https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY (the first set),
//     with no_proxy or NO_PROXY, as golang.org/x/net/http/httpproxy reads
//     them;
//  5. the system's settings (see System).
//
// A PAC file, WPAD or a SOCKS proxy is not followed: the answer is nil
// (direct) with Source.Unsupported set. An error means a setting of
// agent.yaml or of the environment is malformed; the system's malformed
// settings are skipped (System.Problems lists them).
func Resolve(target string, cfg Settings) (*url.URL, Source, error) {
	host, port, err := splitTarget(target)
	if err != nil {
		return nil, Source{}, fmt.Errorf("finding the proxy for %q: %w", target, err)
	}
	if isLoopback(host) {
		return nil, Source{Setting: "a loopback target", Exempt: true}, nil
	}
	if len(cfg.NoProxy) > 0 && exempt(strings.Join(cfg.NoProxy, ","), host, port) {
		return nil, Source{Origin: OriginConfig, Setting: "no_proxy", Exempt: true}, nil
	}
	if cfg.Proxy != nil {
		u, err := ParseURL(cfg.Proxy.String())
		if err != nil {
			return nil, Source{}, fmt.Errorf("agent.yaml's proxy %s: %w", cfg.Proxy.Redacted(), err)
		}
		return u, Source{Origin: OriginConfig, Setting: "proxy"}, nil
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if name, v := firstSet(getenv, envProxies); name != "" {
		u, err := ParseURL(v)
		if errors.Is(err, errSOCKS) {
			return nil, Source{Origin: OriginEnv, Setting: name, Unsupported: UnsupportedSOCKS, Value: safetext.Clean(redacted(v), maxProblem)}, nil
		}
		if err != nil {
			return nil, Source{}, fmt.Errorf("the environment's %s: %w", name, err)
		}
		if npName, np := firstSet(getenv, envNoProxy); npName != "" && exempt(np, host, port) {
			return nil, Source{Origin: OriginEnv, Setting: npName, Exempt: true}, nil
		}
		return u, Source{Origin: OriginEnv, Setting: name}, nil
	}
	if cfg.System != nil {
		u, src := cfg.System.resolve(host, port)
		return u, src, nil
	}
	return nil, Source{}, nil
}

// firstSet returns the first of names that getenv gives a value, and
// that value.
func firstSet(getenv func(string) string, names []string) (string, string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// splitTarget splits host:port, with a port from 1 to 65535.
func splitTarget(target string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(target)
	if err != nil {
		return "", "", fmt.Errorf("not host:port: %w", err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	if host == "" {
		return "", "", errors.New("no host")
	}
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] == 0x7f {
			return "", "", errors.New("the host holds a space or a control character")
		}
	}
	return host, port, nil
}

// isLoopback says whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// exempt says whether NO_PROXY's list noProxy exempts host:port, as
// golang.org/x/net/http/httpproxy decides it.
func exempt(noProxy, host, port string) bool {
	return exemptFunc(noProxy)(host, port)
}

// exemptFunc prepares a NO_PROXY list for many targets.
func exemptFunc(noProxy string) func(host, port string) bool {
	f := (&httpproxy.Config{HTTPSProxy: "http://proxy.invalid:1", NoProxy: noProxy}).ProxyFunc()
	return func(host, port string) bool {
		u, err := f(&url.URL{Scheme: "https", Host: net.JoinHostPort(host, port)})
		return err == nil && u == nil
	}
}

// maxURL bounds a proxy URL as written.
const maxURL = 2048

// errSOCKS is ParseURL's error for a SOCKS proxy.
var errSOCKS = errors.New("a SOCKS proxy: not supported, only HTTP proxies (http:// or https://)")

// ParseURL parses a proxy as agent.yaml, the environment and the system
// write it: a URL with the scheme http or https, or host:port (http is
// assumed), with an optional user:password@. It returns the URL with the
// port made explicit (80 for http, 443 for https, as Go assumes) and
// nothing but scheme, user and host. A path is refused: the proxy URL has
// none, and a PAC file's URL is not a proxy.
func ParseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("empty")
	case len(s) > maxURL:
		return nil, fmt.Errorf("longer than %d bytes", maxURL)
	case strings.ContainsAny(s, "$`"):
		return nil, errors.New("holds a shell variable or command, which is not expanded")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "http", "https":
		u.Scheme = scheme
	case "socks", "socks4", "socks4a", "socks5", "socks5h":
		return nil, errSOCKS
	default:
		return nil, fmt.Errorf("scheme %q: a proxy is http:// or https://", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("no host")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("has a path: a proxy URL has none (a PAC file's URL is not a proxy, and PAC is not supported)")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return &url.URL{Scheme: u.Scheme, User: u.User, Host: net.JoinHostPort(u.Hostname(), port)}, nil
}

// redacted returns a proxy value without its password, for a message.
func redacted(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	if at := strings.LastIndex(v, "@"); at >= 0 {
		return "xxxxx@" + v[at+1:]
	}
	return v
}

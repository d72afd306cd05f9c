package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sondehq/sonde/agent/proxy"
	"github.com/sondehq/sonde/internal/limitfile"
)

// Bounds of the proxy settings.
const (
	// MaxNoProxy bounds no_proxy's entries.
	MaxNoProxy = 64
	// maxPasswordFile bounds the proxy password file.
	maxPasswordFile = 1 << 10
)

// HostList is no_proxy's list: a YAML list of entries, or one string of
// comma-separated entries as the NO_PROXY variable writes them.
type HostList []string

// UnmarshalYAML reads a list or a comma-separated string.
func (h *HostList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return fmt.Errorf("decoding a host list: %w", err)
		}
		*h = nil
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				*h = append(*h, e)
			}
		}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return fmt.Errorf("decoding a host list: %w", err)
	}
	*h = list
	return nil
}

// validateProxy checks proxy, proxy_password_file and no_proxy without
// reading the password file (Load does, through ProxyURL).
func (c *Config) validateProxy() error {
	if len(c.NoProxy) > MaxNoProxy {
		return fmt.Errorf("no_proxy: %d entries, at most %d", len(c.NoProxy), MaxNoProxy)
	}
	for i, e := range c.NoProxy {
		if e == "" || len(e) > 260 || strings.ContainsAny(e, " \t,") {
			return fmt.Errorf("no_proxy[%d]: %.40q is not a host, domain, address or CIDR block", i, e)
		}
	}
	if c.Proxy == "" {
		if c.ProxyPasswordFile != "" {
			return errors.New("proxy_password_file is set but proxy is not")
		}
		return nil
	}
	u, err := proxy.ParseURL(c.Proxy)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	raw, _ := url.Parse(c.Proxy) // ParseURL parsed it
	switch {
	case !strings.Contains(c.Proxy, "://"):
		return fmt.Errorf("proxy: write the scheme: http://%s or https://%s", u.Host, u.Host)
	case raw.Port() == "":
		return errors.New("proxy: give the port (http://host:3128): tools disagree on the default")
	case c.ProxyPasswordFile != "" && u.User == nil:
		return errors.New("proxy_password_file needs the user in proxy: http://USER@host:port")
	}
	if _, set := u.User.Password(); set && c.ProxyPasswordFile != "" {
		return errors.New("proxy holds a password and proxy_password_file names one too: keep one (the file, as agent.yaml is readable by every local user)")
	}
	return nil
}

// ProxyURL returns the proxy agent.yaml names, with the password of
// proxy_password_file when it names one, or nil when it names no proxy.
// It reads the password file each time (Load calls it once to check it),
// so that a changed password is read when the agent dials again.
func (c *Config) ProxyURL() (*url.URL, error) {
	if c.Proxy == "" {
		return nil, nil
	}
	u, err := proxy.ParseURL(c.Proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if c.ProxyPasswordFile == "" {
		return u, nil
	}
	if u.User == nil {
		return nil, errors.New("proxy_password_file needs the user in proxy: http://USER@host:port")
	}
	pw, err := readPassword(c.passwordPath())
	if err != nil {
		return nil, err
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u, nil
}

// passwordPath is proxy_password_file, relative to agent.yaml's folder.
func (c *Config) passwordPath() string {
	p := c.ProxyPasswordFile
	if !filepath.IsAbs(p) && c.dir != "" {
		p = filepath.Join(c.dir, p)
	}
	return p
}

// readPassword reads the first line of a password file that others may
// not read.
func readPassword(path string) (string, error) {
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("proxy_password_file: %w", err)
		}
		if fi.Mode().Perm()&0o004 != 0 {
			return "", fmt.Errorf("proxy_password_file %s is readable by every user (mode %04o): chmod o-r it", path, fi.Mode().Perm())
		}
	}
	b, err := limitfile.Read(path, maxPasswordFile)
	if err != nil {
		return "", fmt.Errorf("proxy_password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return "", fmt.Errorf("proxy_password_file %s: the first line is empty", path)
	}
	return line, nil
}

// ProxySettings returns the proxy settings for proxy.Resolve: proxy, with
// the password of proxy_password_file, and no_proxy.
func (c *Config) ProxySettings() (proxy.Settings, error) {
	u, err := c.ProxyURL()
	if err != nil {
		return proxy.Settings{}, err
	}
	return proxy.Settings{Proxy: u, NoProxy: c.NoProxy}, nil
}

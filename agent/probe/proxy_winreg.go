package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// Registry keys of Windows' proxy settings.
const (
	inetSettings       = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`
	inetSettingsPolicy = `HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`
	winHTTPKey         = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`
)

// windowsProxies reads each logged-on user's Internet Settings (what
// browsers and most applications use), the machine's when a policy makes
// them per machine, and WinHTTP's (what services and Windows Update use).
func windowsProxies(reg winreg.Reader, r *ProxyResult) []ProxySetting {
	var out []ProxySetting
	for _, u := range windowsUsers(reg) {
		out = append(out, inetProxies(reg, `HKU\`+u.SID+`\`+inetSettings, u.Name)...)
	}
	if v, err := reg.Values(inetSettingsPolicy); err == nil {
		if pu, ok := v["ProxySettingsPerUser"]; ok && pu.Int == 0 {
			out = append(out, inetProxies(reg, `HKLM\`+inetSettings, "(machine)")...)
		}
	}
	if v, err := reg.Values(winHTTPKey); err == nil {
		if blob, ok := v["WinHttpSettings"]; ok {
			c, err := parseConnectionSettings(blob.Bytes)
			if err != nil {
				r.Errors = append(r.Errors, fmt.Sprintf("WinHttpSettings: %v", err))
			} else if c.Flags&connProxy != 0 {
				out = append(out, proxyServers("WinHTTP", "", "ProxyServer", c.Proxy, true)...)
				if c.Bypass != "" {
					out = append(out, ProxySetting{Source: "WinHTTP", Name: "ProxyBypass", Kind: "bypass", Value: c.Bypass, Enabled: true})
				}
			}
		}
	} else if !errors.Is(err, winreg.ErrNotExist) {
		r.Errors = append(r.Errors, err.Error())
	}
	r.NotRead = []string{"accounts that are not logged on (their registry hives are not loaded)", "browsers' own settings (Firefox)"}
	return out
}

// inetProxies reads one Internet Settings key: ProxyEnable, ProxyServer,
// ProxyOverride, AutoConfigURL, and the auto-detect flag of the
// DefaultConnectionSettings blob under Connections.
func inetProxies(reg winreg.Reader, key, user string) []ProxySetting {
	v, err := reg.Values(key)
	if err != nil {
		return nil
	}
	enabled := v["ProxyEnable"].Int == 1
	var out []ProxySetting
	if s := v["ProxyServer"].Text(); s != "" {
		out = append(out, proxyServers(key, user, "ProxyServer", s, enabled)...)
	}
	if s := v["ProxyOverride"].Text(); s != "" {
		out = append(out, ProxySetting{Source: key, User: user, Name: "ProxyOverride", Kind: "bypass", Value: s, Enabled: enabled})
	}
	if s := v["AutoConfigURL"].Text(); s != "" {
		out = append(out, ProxySetting{Source: key, User: user, Name: "AutoConfigURL", Kind: "pac", Value: s, Enabled: true})
	}
	if c, err := reg.Values(key + `\Connections`); err == nil {
		if blob, ok := c["DefaultConnectionSettings"]; ok {
			if cs, err := parseConnectionSettings(blob.Bytes); err == nil && cs.Flags&connAutoDetect != 0 {
				out = append(out, ProxySetting{Source: key + `\Connections`, User: user, Name: "DefaultConnectionSettings", Kind: "auto-detect", Value: "on", Enabled: true})
			}
		}
	}
	return out
}

// proxyServers splits a Windows proxy list: "host:port" for every
// protocol, or "http=host:port;https=host:port;socks=host:port".
func proxyServers(source, user, name, list string, enabled bool) []ProxySetting {
	var out []ProxySetting
	for _, item := range strings.Split(list, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		kind := "all"
		if proto, addr, ok := strings.Cut(item, "="); ok {
			kind, item = strings.ToLower(strings.TrimSpace(proto)), addr
			if kind != "http" && kind != "https" && kind != "ftp" && kind != "socks" {
				kind = "all"
			}
		}
		out = append(out, ProxySetting{Source: source, User: user, Name: name, Kind: kind, Value: item, Enabled: enabled})
		if len(out) == 8 {
			break
		}
	}
	return out
}

// Flags of a connection settings blob.
const (
	connDirect     = 0x1
	connProxy      = 0x2
	connAutoURL    = 0x4
	connAutoDetect = 0x8
)

// connectionSettings is the binary layout WinINet and WinHTTP keep their
// proxy in (DefaultConnectionSettings, WinHttpSettings).
type connectionSettings struct {
	Version, Counter, Flags uint32
	Proxy, Bypass, AutoURL  string
}

// parseConnectionSettings parses a connection settings blob, little
// endian: version (0x18 for WinHTTP, 0x46 for WinINet), a change counter,
// the flags (direct, proxy, auto-config URL, auto-detect), then
// length-prefixed ANSI strings: the proxy list, the bypass list and, in
// WinINet's, the auto-config URL. Trailing fields the agent does not use
// are ignored.
func parseConnectionSettings(b []byte) (connectionSettings, error) {
	var c connectionSettings
	if len(b) < 12 {
		return c, fmt.Errorf("%d bytes, fewer than the 12 of its header", len(b))
	}
	c.Version = binary.LittleEndian.Uint32(b)
	c.Counter = binary.LittleEndian.Uint32(b[4:])
	c.Flags = binary.LittleEndian.Uint32(b[8:])
	b = b[12:]
	for _, dst := range []*string{&c.Proxy, &c.Bypass, &c.AutoURL} {
		if len(b) < 4 {
			if dst == &c.AutoURL {
				break // WinHTTP's blob ends after the bypass list
			}
			return c, errors.New("cut before a string's length")
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return c, fmt.Errorf("a string of %d bytes in %d", n, len(b))
		}
		*dst = cleanText(latin1(b[:n]), maxProxyValue)
		b = b[n:]
	}
	return c, nil
}

// latin1 decodes ANSI text as Latin-1: proxy names are ASCII, and
// anything else stays readable rather than invalid.
func latin1(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteRune(rune(c))
	}
	return s.String()
}

package sysproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/sondehq/sonde/agent/probe/winreg"
	"github.com/sondehq/sonde/internal/safetext"
)

// Registry keys of Windows' proxy settings.
const (
	inetSettings       = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`
	inetSettingsPolicy = `HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`
	winHTTPKey         = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`
)

// The Source and User of the settings Windows returns for WinHTTP and for
// the machine-wide Internet Settings.
const (
	WinHTTPSource = "WinHTTP"
	MachineUser   = "(machine)"
)

// Windows reads each logged-on user's Internet Settings (what browsers
// and most applications use; User names the account), the machine's when
// a policy makes them per machine (User is MachineUser), and WinHTTP's
// (Source WinHTTPSource: what services and Windows Update use, set with
// `netsh winhttp set proxy`). It returns what it could read and why it
// could not read the rest.
func Windows(reg winreg.Reader) ([]Setting, []error) {
	var out []Setting
	var errs []error
	for _, u := range winreg.Users(reg) {
		out = append(out, inetProxies(reg, `HKU\`+u.SID+`\`+inetSettings, u.Name)...)
	}
	if v, err := reg.Values(inetSettingsPolicy); err == nil {
		if pu, ok := v["ProxySettingsPerUser"]; ok && pu.Int == 0 {
			out = append(out, inetProxies(reg, `HKLM\`+inetSettings, MachineUser)...)
		}
	}
	if v, err := reg.Values(winHTTPKey); err == nil {
		if blob, ok := v["WinHttpSettings"]; ok {
			c, err := parseConnectionSettings(blob.Bytes)
			if err != nil {
				errs = append(errs, fmt.Errorf("WinHttpSettings: %w", err))
			} else if c.Flags&connProxy != 0 {
				out = append(out, proxyServers(WinHTTPSource, "", "ProxyServer", c.Proxy, true)...)
				if c.Bypass != "" {
					out = append(out, Setting{Source: WinHTTPSource, Name: "ProxyBypass", Kind: KindBypass, Value: c.Bypass, Enabled: true})
				}
			}
		}
	} else if !errors.Is(err, winreg.ErrNotExist) {
		errs = append(errs, fmt.Errorf("reading WinHTTP's settings: %w", err))
	}
	return out, errs
}

// inetProxies reads one Internet Settings key: ProxyEnable, ProxyServer,
// ProxyOverride, AutoConfigURL, and the auto-detect flag of the
// DefaultConnectionSettings blob under Connections.
func inetProxies(reg winreg.Reader, key, user string) []Setting {
	v, err := reg.Values(key)
	if err != nil {
		return nil
	}
	enabled := v["ProxyEnable"].Int == 1
	var out []Setting
	if s := v["ProxyServer"].Text(); s != "" {
		out = append(out, proxyServers(key, user, "ProxyServer", s, enabled)...)
	}
	if s := v["ProxyOverride"].Text(); s != "" {
		out = append(out, Setting{Source: key, User: user, Name: "ProxyOverride", Kind: KindBypass, Value: s, Enabled: enabled})
	}
	if s := v["AutoConfigURL"].Text(); s != "" {
		out = append(out, Setting{Source: key, User: user, Name: "AutoConfigURL", Kind: KindPAC, Value: s, Enabled: true})
	}
	if c, err := reg.Values(key + `\Connections`); err == nil {
		if blob, ok := c["DefaultConnectionSettings"]; ok {
			if cs, err := parseConnectionSettings(blob.Bytes); err == nil && cs.Flags&connAutoDetect != 0 {
				out = append(out, Setting{Source: key + `\Connections`, User: user, Name: "DefaultConnectionSettings", Kind: KindAutoDetect, Value: "on", Enabled: true})
			}
		}
	}
	return out
}

// maxServers bounds the entries proxyServers keeps of one list.
const maxServers = 8

// proxyServers splits a Windows proxy list: "host:port" for every
// protocol, or "http=host:port;https=host:port;socks=host:port".
func proxyServers(source, user, name, list string, enabled bool) []Setting {
	var out []Setting
	for _, item := range strings.Split(list, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		kind := KindAll
		if proto, addr, ok := strings.Cut(item, "="); ok {
			kind, item = strings.ToLower(strings.TrimSpace(proto)), addr
			if kind != KindHTTP && kind != KindHTTPS && kind != KindFTP && kind != KindSOCKS {
				kind = KindAll
			}
		}
		out = append(out, Setting{Source: source, User: user, Name: name, Kind: kind, Value: item, Enabled: enabled})
		if len(out) == maxServers {
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
// WinINet's, the auto-config URL. Trailing fields nobody here uses are
// ignored.
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
		*dst = safetext.Clean(latin1(b[:n]), MaxValue)
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

// Package sysproxy reads the proxy settings an operating system keeps, as
// written: the proxy variables of shell, pam_env and systemd files on
// Linux, the Internet Settings and WinHTTP values of the Windows registry,
// and what macOS' `scutil --proxy` prints. It parses what its callers have
// read (file contents, a registry Reader, a tool's output) and never reads
// the host itself, so that the parsing is tested on any platform against
// recorded fixtures.
//
// Two callers share it: the proxy probe, which reports every setting it
// finds, and package proxy, which picks the one the agent's own
// connection to its collector goes through.
package sysproxy

import "strings"

// Setting is one proxy setting as written. Its JSON form is part of the
// proxy probe's result.
type Setting struct {
	// Source is the file, registry key or tool it was read from.
	Source string `json:"source"`
	// User is the account whose setting it is (Windows, per user).
	User string `json:"user,omitempty"`
	// Name is the setting's name as written: https_proxy,
	// Acquire::http::Proxy, ProxyServer, HTTPSProxy ...
	Name string `json:"name"`
	// Kind is http, https, ftp, socks or all (a proxy for those
	// protocols), bypass (hosts that skip the proxy), pac (a proxy
	// auto-configuration URL) or auto-detect (WPAD).
	Kind string `json:"kind"`
	// Value is the setting as written. It may hold a password.
	Value string `json:"value"`
	// Enabled is false where the platform keeps a setting switched off
	// (Windows' ProxyEnable, macOS' HTTPEnable).
	Enabled bool `json:"enabled"`
}

// The kinds of a Setting.
const (
	KindHTTP       = "http"
	KindHTTPS      = "https"
	KindFTP        = "ftp"
	KindSOCKS      = "socks"
	KindAll        = "all"
	KindBypass     = "bypass"
	KindPAC        = "pac"
	KindAutoDetect = "auto-detect"
)

// MaxValue bounds the strings read from binary registry blobs.
const MaxValue = 512

// envVars maps the environment variables of proxies, in lower case, to
// their kinds.
var envVars = map[string]string{
	"http_proxy": KindHTTP, "https_proxy": KindHTTPS, "ftp_proxy": KindFTP, "all_proxy": KindAll,
	"socks_proxy": KindSOCKS, "no_proxy": KindBypass,
}

// Shell reads the proxy variables a shell or pam_env file sets (such as
// /etc/environment or /etc/profile.d/*.sh), line by line, without running
// it: `export http_proxy=...`, `HTTPS_PROXY="..."`, several assignments on
// a line, quotes removed. Later settings of a name override earlier ones,
// as in a shell; the caller decides.
func Shell(source string, b []byte) []Setting {
	var out []Setting
	for line := range strings.Lines(string(b)) {
		out = append(out, assignments(source, "", shellWords(line))...)
	}
	return out
}

// Systemd reads the proxy variables systemd passes to every service:
// DefaultEnvironment= (and ManagerEnvironment=) in [Manager] of
// system.conf and its drop-ins, space-separated assignments with systemd's
// quoting. Each Name is prefixed with the directive's.
func Systemd(source string, b []byte) []Setting {
	var out []Setting
	section := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || section != "Manager" || k != "DefaultEnvironment" && k != "ManagerEnvironment" {
			continue
		}
		out = append(out, assignments(source, k+": ", shellWords(v))...)
	}
	return out
}

// assignments keeps the words that assign a proxy variable.
func assignments(source, prefix string, words []string) []Setting {
	var out []Setting
	for _, w := range words {
		name, value, ok := strings.Cut(w, "=")
		if kind, known := envVars[strings.ToLower(name)]; ok && known {
			out = append(out, Setting{Source: source, Name: prefix + name, Kind: kind, Value: value, Enabled: true})
		}
	}
	return out
}

// shellWords splits a line into words as a shell would, without expanding
// anything: quotes group and are removed, a backslash escapes the next
// character, ';', '&' and '|' separate, and '#' at a word's start begins a
// comment.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || c == '&' || c == '|':
			flush()
		case c == '#' && !inWord:
			flush()
			return words
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		case c == '\'' || c == '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				end = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

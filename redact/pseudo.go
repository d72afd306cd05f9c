package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// Pseudonym kinds: the HMAC input is kind + NUL + canonical value, so the
// same value yields the same pseudonym wherever it appears in a bundle.
const (
	kindIPv4  = "ip"
	kindIPv6  = "ip6"
	kindMAC   = "mac"
	kindEmail = "email"
	kindHost  = "host"
	kindUser  = "user"
)

// ruleOfKind names the report rule of each pseudonym kind.
var ruleOfKind = map[string]string{
	kindIPv4: "ipv4", kindIPv6: "ipv6", kindMAC: "mac", kindEmail: "email",
	kindHost: "hostname", kindUser: "username",
}

var (
	ipv4RE  = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6RE  = regexp.MustCompile(`(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}`)
	macRE   = regexp.MustCompile(`(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b`)
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	hostRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9\-_.]*[A-Za-z0-9])?$`)
)

// systemUsers are accounts that identify no person and stay as they are.
var systemUsers = map[string]bool{
	"root": true, "nobody": true, "daemon": true, "bin": true, "sys": true, "system": true,
	"local service": true, "network service": true, "administrator": true, "admin": true,
	"www-data": true, "messagebus": true, "syslog": true, "_apt": true, "sshd": true,
	"systemd-network": true, "systemd-resolve": true, "systemd-timesync": true,
	"polkitd": true, "avahi": true, "postgres": true, "mysql": true, "redis": true,
	"reboot": true, "shutdown": true, "localhost": true,
}

// minNameLen is the shortest host or user name replaced in free text; shorter
// names ("vm") are replaced only in fields that hold a host or user name.
const minNameLen = 3

// keepIP reports whether an address identifies nothing: loopback,
// unspecified, multicast, broadcast and netmasks stay as they are.
func keepIP(a netip.Addr) bool {
	if a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() {
		return true
	}
	return a.Is4() && a.As4()[0] == 255
}

// identifiers finds the pseudonymizable spans of s.
func (r *Redactor) identifiers(s string) []span {
	var out []span
	for _, m := range emailRE.FindAllStringIndex(s, -1) {
		v := s[m[0]:m[1]]
		if !strings.HasSuffix(strings.ToLower(v), "@example.invalid") {
			out = append(out, span{start: m[0], end: m[1], kind: kindEmail, canon: strings.ToLower(v)})
		}
	}
	for _, m := range macRE.FindAllStringIndex(s, -1) {
		v := strings.ToLower(strings.ReplaceAll(s[m[0]:m[1]], "-", ":"))
		before, after := byteAt(s, m[0]-1), byteAt(s, m[1])
		if v == "00:00:00:00:00:00" || v == "ff:ff:ff:ff:ff:ff" || before == ':' || after == ':' || (after == '-' && wordByte(byteAt(s, m[1]+1))) {
			continue
		}
		out = append(out, span{start: m[0], end: m[1], kind: kindMAC, canon: v})
	}
	for _, m := range ipv4RE.FindAllStringIndex(s, -1) {
		before, after := byteAt(s, m[0]-1), byteAt(s, m[1])
		// ipv4RE's \b already keeps letters and digits off either end
		// ("v10.0.0.1"); dots are left, as in versions and OIDs.
		if before == '.' || (after == '.' && isDigit(byteAt(s, m[1]+1))) {
			continue
		}
		if a, err := netip.ParseAddr(s[m[0]:m[1]]); err == nil && !keepIP(a) {
			out = append(out, span{start: m[0], end: m[1], kind: kindIPv4, canon: a.String()})
		}
	}
	for _, m := range ipv6RE.FindAllStringIndex(s, -1) {
		if sp, ok := ipv6Span(s, m[0], m[1]); ok {
			out = append(out, sp)
		}
	}
	if re := r.namesRegexp(); re != nil {
		for _, m := range re.FindAllStringIndex(s, -1) {
			before, after := byteAt(s, m[0]-1), byteAt(s, m[1])
			name := strings.ToLower(s[m[0]:m[1]])
			kind := r.names[name]
			if wordByte(before) || before == '.' || wordByte(after) || (kind == kindUser && after == '.' && wordByte(byteAt(s, m[1]+1))) {
				continue
			}
			out = append(out, span{start: m[0], end: m[1], kind: kind, canon: name})
		}
	}
	return out
}

// ipv6Span validates an IPv6 candidate, trimming a stray colon at either end.
func ipv6Span(s string, st, en int) (span, bool) {
	for try := 0; try < 3; try++ {
		c := s[st:en]
		if a, err := netip.ParseAddr(c); err == nil && a.Is6() {
			before, after := byteAt(s, st-1), byteAt(s, en)
			if wordByte(before) || before == '.' || wordByte(after) || keepIP(a.Unmap()) {
				return span{}, false
			}
			if a.Is4In6() {
				return span{start: st, end: en, kind: kindIPv4, canon: a.Unmap().String()}, true
			}
			return span{start: st, end: en, kind: kindIPv6, canon: a.String()}, true
		}
		switch {
		case strings.HasPrefix(c, ":") && !strings.HasPrefix(c, "::"):
			st++
		case strings.HasSuffix(c, ":") && !strings.HasSuffix(c, "::"):
			en--
		default:
			return span{}, false
		}
	}
	return span{}, false
}

// byteAt returns s[i], or 0 outside s.
func byteAt(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// pseudonym returns the stable pseudonym of a value and records the mapping.
// It is HMAC-SHA256(salt, kind NUL canon), 6 hex digits, longer on collision.
func (r *Redactor) pseudonym(kind, canon, original string) string {
	key := kind + "\x00" + canon
	if p, ok := r.byValue[key]; ok {
		return p
	}
	mac := hmac.New(sha256.New, r.salt)
	mac.Write([]byte(key))
	sum := hex.EncodeToString(mac.Sum(nil))
	prefix, suffix := kind+"-", ""
	if kind == kindEmail {
		suffix = "@example.invalid"
	}
	p := prefix + sum + suffix
	for n := 6; n < len(sum); n += 2 {
		if _, taken := r.mapping[prefix+sum[:n]+suffix]; !taken {
			p = prefix + sum[:n] + suffix
			break
		}
	}
	r.byValue[key] = p
	r.mapping[p] = original
	return p
}

// addName registers a host or user name to be replaced everywhere. A fully
// qualified host name also registers its first label.
func (r *Redactor) addName(kind, name string) {
	name = strings.TrimSpace(name)
	lower := strings.ToLower(name)
	if name == "" || len(name) > 253 || systemUsers[lower] || markerRE.MatchString(name) {
		return
	}
	if kind == kindHost {
		if _, err := netip.ParseAddr(name); err == nil || !hostRE.MatchString(name) {
			return
		}
	}
	if _, ok := r.names[lower]; ok {
		return
	}
	r.names[lower] = kind
	r.namesRE = nil
	if i := strings.IndexByte(name, '.'); kind == kindHost && i > 0 {
		r.addName(kindHost, name[:i])
	}
}

// namesRegexp matches the registered names of at least minNameLen bytes,
// longest first; it is rebuilt only when a name was added.
func (r *Redactor) namesRegexp() *regexp.Regexp {
	if r.namesRE != nil || len(r.names) == 0 {
		return r.namesRE
	}
	var alts []string
	for n := range r.names {
		if len(n) >= minNameLen {
			alts = append(alts, n)
		}
	}
	if len(alts) == 0 {
		return nil
	}
	sort.Slice(alts, func(i, j int) bool {
		if len(alts[i]) != len(alts[j]) {
			return len(alts[i]) > len(alts[j])
		}
		return alts[i] < alts[j]
	})
	for i, a := range alts {
		alts[i] = regexp.QuoteMeta(a)
	}
	r.namesRE = regexp.MustCompile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
	return r.namesRE
}

// nameField pseudonymizes a whole field value that holds a host or user
// name, however short. With register the value becomes a known name;
// without, only an already known name is replaced.
func (r *Redactor) nameField(kind, v, where string, register bool) string {
	if register {
		r.addName(kind, v)
	}
	lower := strings.ToLower(strings.TrimSpace(v))
	if r.names[lower] != kind {
		return r.text(v, where)
	}
	r.count(ruleOfKind[kind], KindPseudonym, where)
	return r.pseudonym(kind, lower, v)
}

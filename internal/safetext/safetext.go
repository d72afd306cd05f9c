// Package safetext makes text that came from outside (a host's files and
// registry, a network peer) safe to log or send: valid UTF-8, without
// control characters, within a byte bound. The probes and the proxy code
// share it, so that every such string is cleaned the same way.
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bound cuts s to at most max bytes on a character boundary, as valid
// UTF-8, and reports whether it was cut (or cut already: cut is passed
// through).
func Bound(s string, max int, cut bool) (string, bool) {
	s = strings.ToValidUTF8(s, "\uFFFD") // first: it may lengthen s
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	return s, cut
}

// Clean returns s as valid UTF-8, without control characters or
// surrounding space, at most max bytes.
func Clean(s string, max int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > 4*max {
		s = s[:4*max] // enough runes for max bytes of printable ones
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s, _ = Bound(strings.TrimSpace(s), max, false)
	return s
}

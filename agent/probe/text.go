package probe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Strings read from the host are untrusted: the protocol refuses invalid
// UTF-8, and a snapshot must stay within its bounds.

// bound cuts s to at most max bytes on a character boundary, as valid
// UTF-8, and reports whether it was cut (or cut already).
func bound(s string, max int, cut bool) (string, bool) {
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

// cleanText makes text read from the host safe to send: valid UTF-8,
// without control characters or surrounding space, at most max bytes.
func cleanText(s string, max int) string {
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
	s, _ = bound(strings.TrimSpace(s), max, false)
	return s
}

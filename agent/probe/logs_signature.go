package probe

import (
	"strings"
	"unicode/utf8"
)

// signature is a message with what varies between occurrences of the
// same event (numbers, hex, addresses, PIDs, UUIDs, times) replaced by
// "#", so that "sda: I/O error, sector 1234" and "... sector 5678" fall
// into one group. Words that merely hold digits (eth0, sda1, ext4) stay:
// they name what the message is about. At most maxSignature bytes.
func signature(msg string) string {
	var b strings.Builder
	b.Grow(min(len(msg), maxSignature))
	for i := 0; i < len(msg) && b.Len() < maxSignature; {
		if !isWordByte(msg[i]) {
			// A whole rune, so the bound never splits one.
			_, size := utf8.DecodeRuneInString(msg[i:])
			if b.Len()+size > maxSignature {
				break
			}
			b.WriteString(msg[i : i+size])
			i += size
			continue
		}
		// A compound: words joined by ':', '.' or '-' (an address, a
		// time, a version, a UUID), without separators at its ends.
		j := i
		for j < len(msg) && (isWordByte(msg[j]) || isJoinByte(msg[j])) {
			j++
		}
		end := j
		for end > i && isJoinByte(msg[end-1]) {
			end--
		}
		writeCompound(&b, msg[i:end])
		b.WriteString(msg[end:j])
		i = j
	}
	s := b.String()
	if len(s) > maxSignature {
		n := maxSignature
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// writeCompound writes c, or "#" for the variable parts of it.
func writeCompound(b *strings.Builder, c string) {
	if !hasJoin(c) {
		writeWord(b, c, variableWord(c))
		return
	}
	if allHexParts(c) && hasDigit(c) {
		b.WriteByte('#') // 10.0.0.1, 00:1a:2b:3c:4d:5e, 12:03:44, a UUID
		return
	}
	// Parts between separators: words and the separator after each.
	var words, seps []string
	for start, i := 0, 0; i <= len(c); i++ {
		if i == len(c) || isJoinByte(c[i]) {
			words = append(words, c[start:i])
			seps = append(seps, c[i:min(i+1, len(c))])
			start = i + 1
		}
	}
	variable := make([]bool, len(words))
	for i, w := range words {
		variable[i] = variableWord(w)
	}
	// A short hex word next to a number is part of it: the 3b of
	// PCI:0000:3b:00.
	for i, w := range words {
		if !variable[i] && len(w) <= 4 && allHex(w) && hasDigit(w) &&
			(i > 0 && variable[i-1] || i+1 < len(words) && variable[i+1]) {
			variable[i] = true
		}
	}
	for i, w := range words {
		writeWord(b, w, variable[i])
		b.WriteString(seps[i])
	}
}

// writeWord writes w, "#" if it is variable, or "#unit" for a number
// with a unit (2960kB, 150ms).
func writeWord(b *strings.Builder, w string, variable bool) {
	switch {
	case variable:
		b.WriteByte('#')
	case unitNumber(w):
		b.WriteByte('#')
		b.WriteString(strings.TrimLeft(w, "0123456789"))
	default:
		b.WriteString(w)
	}
}

// variableWord reports whether a word is a number: decimal, 0x-prefixed
// hex, or a hex string of 8 digits or more holding a decimal digit (an
// address, a hash); or an identifier of 20 characters or more mixing
// letters and digits (a session ID, a token).
func variableWord(w string) bool {
	if w == "" {
		return false
	}
	if allDigits(w) {
		return true
	}
	if len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') && allHex(w[2:]) {
		return true
	}
	if len(w) >= 20 && hasDigit(w) && strings.ContainsFunc(w, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) {
		return true
	}
	return len(w) >= 8 && allHex(w) && hasDigit(w)
}

// unitNumber reports whether a word is a number with a unit of at most
// four letters after it.
func unitNumber(w string) bool {
	unit := strings.TrimLeft(w, "0123456789")
	if len(unit) == len(w) || len(unit) > 4 {
		return false
	}
	for i := 0; i < len(unit); i++ {
		if c := unit[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isJoinByte(c byte) bool { return c == ':' || c == '.' || c == '-' }

func hasJoin(s string) bool { return strings.ContainsAny(s, ":.-") }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// allHexParts reports whether every part of c between separators is hex
// (empty parts, as in "fe80::1", count as hex).
func allHexParts(c string) bool {
	for _, part := range strings.FieldsFunc(c, func(r rune) bool { return r == ':' || r == '.' || r == '-' }) {
		if !allHex(part) {
			return false
		}
	}
	return true
}

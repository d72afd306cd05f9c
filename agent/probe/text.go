package probe

import "github.com/sondehq/sonde/internal/safetext"

// Strings read from the host are untrusted: the protocol refuses invalid
// UTF-8, and a snapshot must stay within its bounds.

// bound cuts s to at most max bytes on a character boundary, as valid
// UTF-8, and reports whether it was cut (or cut already).
func bound(s string, max int, cut bool) (string, bool) { return safetext.Bound(s, max, cut) }

// cleanText makes text read from the host safe to send: valid UTF-8,
// without control characters or surrounding space, at most max bytes.
func cleanText(s string, max int) string { return safetext.Clean(s, max) }

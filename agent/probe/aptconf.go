package probe

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// aptEntry is one setting of an APT configuration file: its full name
// (scopes joined by "::") and its value. A list item has the list's name.
type aptEntry struct {
	Key, Value string
}

// Bounds of parseAptConf.
const (
	maxAptEntries = 2048
	maxAptDepth   = 16
)

// parseAptConf parses APT's configuration syntax (apt.conf(5)): `name
// "value";`, scopes `name { ... };` that prefix the names inside them,
// lists `name { "a"; "b"; };`, // and /* */ comments, # comments, and the
// #include and #clear directives, which it skips. It never reads another
// file. It returns the entries it read before a syntax error with that
// error.
func parseAptConf(b []byte) ([]aptEntry, error) {
	var out []aptEntry
	var scopes, words []string
	line := 1
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '/' && i+1 < len(b) && b[i+1] == '/', c == '#' && !aptDirective(b[i:]):
			if end := bytes.IndexByte(b[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(b)
			}
		case c == '#':
			// #include FILE; or #clear NAME;: skipped to the semicolon.
			for i < len(b) && b[i] != ';' && b[i] != '\n' {
				i++
			}
			i++
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return out, fmt.Errorf("line %d: comment not closed", line)
			}
			line += bytes.Count(b[i:i+2+end], []byte{'\n'})
			i += end + 4
		case c == '"':
			end := bytes.IndexByte(b[i+1:], '"')
			if end < 0 {
				return out, fmt.Errorf("line %d: quote not closed", line)
			}
			line += bytes.Count(b[i+1:i+1+end], []byte{'\n'})
			words = append(words, string(b[i+1:i+1+end]))
			i += end + 2
		case c == '{':
			if len(words) != 1 {
				return out, fmt.Errorf("line %d: a scope needs one name", line)
			}
			if len(scopes) == maxAptDepth {
				return out, fmt.Errorf("line %d: scopes nested deeper than %d", line, maxAptDepth)
			}
			scopes = append(scopes, words[0])
			words = words[:0]
			i++
		case c == '}':
			if len(scopes) == 0 {
				return out, fmt.Errorf("line %d: '}' without a scope", line)
			}
			if len(words) > 0 { // the last item of a list may lack its semicolon
				var err error
				if out, err = aptAdd(out, scopes, words); err != nil {
					return out, fmt.Errorf("line %d: %w", line, err)
				}
				words = words[:0]
			}
			scopes = scopes[:len(scopes)-1]
			i++
		case c == ';':
			if len(words) > 0 {
				var err error
				if out, err = aptAdd(out, scopes, words); err != nil {
					return out, fmt.Errorf("line %d: %w", line, err)
				}
				words = words[:0]
			}
			i++
		default:
			j := i
			for j < len(b) && !aptDelim[b[j]] {
				j++
			}
			words = append(words, string(b[i:j]))
			i = j
		}
	}
	if len(scopes) > 0 {
		return out, fmt.Errorf("line %d: scope %q not closed", line, scopes[len(scopes)-1])
	}
	return out, nil
}

// aptDelim marks the bytes that end an unquoted word.
var aptDelim = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, '"': true, ';': true, '{': true, '}': true}

// aptDirective says whether b starts with #include or #clear.
func aptDirective(b []byte) bool {
	s := string(b[:min(len(b), 8)])
	return strings.HasPrefix(s, "#include") || strings.HasPrefix(s, "#clear")
}

// aptAdd adds the entry that words make in scopes: a name and a value, or
// a list item.
func aptAdd(out []aptEntry, scopes, words []string) ([]aptEntry, error) {
	if len(out) == maxAptEntries {
		return out, fmt.Errorf("more than %d settings", maxAptEntries)
	}
	name := strings.Join(scopes, "::")
	switch len(words) {
	case 1:
		if name == "" {
			return out, fmt.Errorf("value %.40q without a name", words[0])
		}
		return append(out, aptEntry{name, words[0]}), nil
	case 2:
		if name != "" {
			name += "::"
		}
		return append(out, aptEntry{name + words[0], words[1]}), nil
	}
	return out, fmt.Errorf("%d words where a name and a value belong", len(words))
}

// aptPartName matches the names of the files APT reads from a .d folder:
// letters, digits, _, - and ., with no extension or .conf.
var aptPartName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// aptPart says whether APT reads the file of this name in apt.conf.d.
func aptPart(name string) bool {
	if !aptPartName.MatchString(name) {
		return false
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:] == ".conf"
	}
	return true
}

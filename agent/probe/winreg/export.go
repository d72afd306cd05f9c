package winreg

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxExport bounds the size of a .reg export ParseExport reads.
const MaxExport = 32 << 20

// Export is a parsed .reg export: a Reader over the keys it holds.
type Export struct {
	keys map[string]*key // by canonical path
}

type key struct {
	values   map[string]Value // by name as written
	children map[string]string
}

var _ Reader = (*Export)(nil)

// ParseExport parses a .reg export in regedit's format (version 5, UTF-16LE
// with a byte-order mark as regedit writes it, or UTF-8; REGEDIT4 too).
// Deletions ([-KEY], "name"=-) are refused: an export holds none.
func ParseExport(b []byte) (*Export, error) {
	if len(b) > MaxExport {
		return nil, fmt.Errorf("registry export is %d bytes, limit %d", len(b), MaxExport)
	}
	text, err := decode(b)
	if err != nil {
		return nil, err
	}
	e := &Export{keys: map[string]*key{}}
	var cur *key
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		// A value's data continues on the next line after a backslash.
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) && !strings.HasPrefix(line, "[") {
			i++
			line = line[:len(line)-1] + strings.TrimSpace(lines[i])
		}
		switch {
		case line == "" || strings.HasPrefix(line, ";"):
		case n == 1 && (line == "Windows Registry Editor Version 5.00" || line == "REGEDIT4"):
		case n == 1:
			return nil, fmt.Errorf("registry export: line 1: not a .reg header: %.40q", line)
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") || strings.HasPrefix(line, "[-") {
				return nil, fmt.Errorf("registry export: line %d: bad key line %.60q", n, line)
			}
			if _, ok := canon(line[1 : len(line)-1]); !ok {
				return nil, fmt.Errorf("registry export: line %d: no hive in %.60q", n, line)
			}
			cur = e.add(line[1 : len(line)-1])
		default:
			if cur == nil {
				return nil, fmt.Errorf("registry export: line %d: value before any key", n)
			}
			name, v, err := parseValue(line)
			if err != nil {
				return nil, fmt.Errorf("registry export: line %d: %w", n, err)
			}
			cur.values[name] = v
		}
	}
	return e, nil
}

// add makes the key at path, and its parents, and returns it. Subkeys
// keep their names as the export spells them.
func (e *Export) add(path string) *key {
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '\\' })
	var k *key
	for i := range parts {
		c, _ := canon(strings.Join(parts[:i+1], `\`))
		next, ok := e.keys[c]
		if !ok {
			next = &key{values: map[string]Value{}, children: map[string]string{}}
			e.keys[c] = next
		}
		if k != nil {
			k.children[strings.ToUpper(parts[i])] = parts[i]
		}
		k = next
	}
	return k
}

// Values implements Reader.
func (e *Export) Values(path string) (map[string]Value, error) {
	k, err := e.key(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Value, len(k.values))
	for n, v := range k.values {
		out[n] = v
	}
	return out, nil
}

// Subkeys implements Reader.
func (e *Export) Subkeys(path string) ([]string, error) {
	k, err := e.key(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(k.children))
	for _, name := range k.children {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func (e *Export) key(path string) (*key, error) {
	c, ok := canon(path)
	if !ok {
		return nil, fmt.Errorf("registry path %.60q: no hive", path)
	}
	k, ok := e.keys[c]
	if !ok {
		return nil, fmt.Errorf("%w: %.200s", ErrNotExist, path)
	}
	return k, nil
}

// decode returns the export's text: UTF-16LE after its byte-order mark,
// else UTF-8.
func decode(b []byte) (string, error) {
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) {
		b = b[2:]
		if len(b)%2 != 0 {
			return "", fmt.Errorf("registry export: odd length for UTF-16")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	b = bytes.TrimPrefix(b, []byte{0xef, 0xbb, 0xbf})
	if !utf8.Valid(b) {
		return "", fmt.Errorf("registry export: neither UTF-16 with a byte-order mark nor UTF-8")
	}
	return string(b), nil
}

// parseValue parses `"name"=data` or `@=data`.
func parseValue(line string) (string, Value, error) {
	var name, rest string
	if strings.HasPrefix(line, "@=") {
		rest = line[2:]
	} else {
		s, r, err := quoted(line)
		if err != nil {
			return "", Value{}, fmt.Errorf("value name: %w", err)
		}
		if !strings.HasPrefix(r, "=") {
			return "", Value{}, fmt.Errorf("no '=' after value name %.40q", s)
		}
		name, rest = s, r[1:]
	}
	v, err := parseData(rest)
	if err != nil {
		return "", Value{}, fmt.Errorf("value %.40q: %w", name, err)
	}
	return name, v, nil
}

// parseData parses a value's data: "string", dword:, hex: or hex(t):.
func parseData(s string) (Value, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		str, rest, err := quoted(s)
		if err != nil {
			return Value{}, err
		}
		if strings.TrimSpace(rest) != "" {
			return Value{}, fmt.Errorf("text after the string: %.20q", rest)
		}
		return Value{Type: String, Strings: []string{str}}, nil
	case strings.HasPrefix(s, "dword:"):
		n, err := strconv.ParseUint(s[len("dword:"):], 16, 32)
		if err != nil {
			return Value{}, fmt.Errorf("bad dword %.20q", s)
		}
		return Value{Type: DWord, Int: n}, nil
	case strings.HasPrefix(s, "hex:"):
		b, err := hexBytes(s[len("hex:"):])
		return Value{Type: Binary, Bytes: b}, err
	case strings.HasPrefix(s, "hex("):
		end := strings.Index(s, "):")
		if end < 0 {
			return Value{}, fmt.Errorf("bad hex type %.20q", s)
		}
		t, err := strconv.ParseUint(s[len("hex("):end], 16, 32)
		if err != nil {
			return Value{}, fmt.Errorf("bad hex type %.20q", s)
		}
		b, err := hexBytes(s[end+2:])
		if err != nil {
			return Value{}, err
		}
		return typed(t, b)
	case s == "-":
		return Value{}, fmt.Errorf("a deletion, which an export does not hold")
	}
	return Value{}, fmt.Errorf("unknown data %.20q", s)
}

// typed decodes the bytes of a hex(t): value.
func typed(t uint64, b []byte) (Value, error) {
	switch t {
	case 1, 2, 7:
		if len(b)%2 != 0 {
			return Value{}, fmt.Errorf("odd UTF-16 length %d", len(b))
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		strs := strings.Split(string(utf16.Decode(u)), "\x00")
		// Each string ends in NUL, and the list in one more.
		for len(strs) > 0 && strs[len(strs)-1] == "" {
			strs = strs[:len(strs)-1]
		}
		switch t {
		case 1:
			return Value{Type: String, Strings: firstOf(strs)}, nil
		case 2:
			return Value{Type: ExpandString, Strings: firstOf(strs)}, nil
		}
		return Value{Type: MultiString, Strings: strs}, nil
	case 4:
		if len(b) != 4 {
			return Value{}, fmt.Errorf("dword of %d bytes", len(b))
		}
		return Value{Type: DWord, Int: uint64(binary.LittleEndian.Uint32(b))}, nil
	case 0xb:
		if len(b) != 8 {
			return Value{}, fmt.Errorf("qword of %d bytes", len(b))
		}
		return Value{Type: QWord, Int: binary.LittleEndian.Uint64(b)}, nil
	}
	return Value{Type: Binary, Bytes: b}, nil
}

func firstOf(strs []string) []string {
	if len(strs) == 0 {
		return []string{""}
	}
	return strs[:1]
}

// hexBytes parses comma-separated hex bytes ("0a,ff,00").
func hexBytes(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, " ", "")
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]byte, 0, len(parts))
	for _, p := range parts {
		if len(p) != 2 {
			return nil, fmt.Errorf("bad hex byte %.10q", p)
		}
		var b [1]byte
		if _, err := hex.Decode(b[:], []byte(p)); err != nil {
			return nil, fmt.Errorf("bad hex byte %.10q", p)
		}
		out = append(out, b[0])
	}
	return out, nil
}

// quoted parses a leading "..." with \\ and \" escapes and returns it and
// the rest of s.
func quoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("expected a quoted string at %.20q", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"') {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated string %.20q", s)
}

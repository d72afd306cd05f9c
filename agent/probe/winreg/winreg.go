// Package winreg reads Windows registry keys for the agent's probes: from
// the live registry on Windows (Live), and from a .reg export (regedit's
// text format) anywhere (ParseExport), so that the probes' parsing of what
// they read is tested on Linux against recorded fixtures.
//
// Paths name the hive by its short name: HKLM\SOFTWARE\..., HKCU\...,
// HKU\..., HKCR\..., HKCC\...; the long names (HKEY_LOCAL_MACHINE\...) work
// too. Lookups ignore case, as the registry does.
package winreg

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotExist is returned for a key that does not exist.
var ErrNotExist = errors.New("registry key not found")

// Value types, as regedit names them.
const (
	String       = "REG_SZ"
	ExpandString = "REG_EXPAND_SZ"
	MultiString  = "REG_MULTI_SZ"
	DWord        = "REG_DWORD"
	QWord        = "REG_QWORD"
	Binary       = "REG_BINARY"
)

// Value is one registry value. Strings hold REG_SZ and REG_EXPAND_SZ (one
// element, unexpanded) and REG_MULTI_SZ; Int holds REG_DWORD and REG_QWORD;
// Bytes holds REG_BINARY and any other type.
type Value struct {
	Type    string
	Strings []string
	Int     uint64
	Bytes   []byte
}

// Text returns the value as text: the string, the strings joined by "; ",
// or the number in decimal; "" for binary data.
func (v Value) Text() string {
	switch v.Type {
	case String, ExpandString, MultiString:
		return strings.Join(v.Strings, "; ")
	case DWord, QWord:
		return uitoa(v.Int)
	}
	return ""
}

// Reader reads registry keys.
type Reader interface {
	// Values returns the values of the key at path, by name ("" is the
	// key's default value); ErrNotExist when there is no such key.
	Values(path string) (map[string]Value, error)
	// Subkeys returns the names of the key's subkeys, sorted;
	// ErrNotExist when there is no such key.
	Subkeys(path string) ([]string, error)
}

// hives maps the long hive names to the short ones.
var hives = map[string]string{
	"HKEY_LOCAL_MACHINE":  "HKLM",
	"HKEY_CURRENT_USER":   "HKCU",
	"HKEY_USERS":          "HKU",
	"HKEY_CLASSES_ROOT":   "HKCR",
	"HKEY_CURRENT_CONFIG": "HKCC",
}

// canon returns path with a short hive name, no leading, trailing or
// doubled backslashes, in upper case (for lookups); ok is false when it
// names no hive.
func canon(path string) (string, bool) {
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '\\' })
	if len(parts) == 0 {
		return "", false
	}
	hive := strings.ToUpper(parts[0])
	if short, ok := hives[hive]; ok {
		hive = short
	}
	switch hive {
	case "HKLM", "HKCU", "HKU", "HKCR", "HKCC":
	default:
		return "", false
	}
	parts[0] = hive
	return strings.ToUpper(strings.Join(parts, `\`)), true
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Texts returns the values of the key at path as text (see Value.Text),
// by name.
func Texts(r Reader, path string) (map[string]string, error) {
	vs, err := r.Values(path)
	if err != nil {
		return nil, fmt.Errorf("reading registry values: %w", err)
	}
	out := make(map[string]string, len(vs))
	for n, v := range vs {
		out[n] = v.Text()
	}
	return out, nil
}

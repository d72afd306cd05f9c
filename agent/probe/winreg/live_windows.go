package winreg

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// Live returns a Reader of this machine's registry, read-only, in the
// 64-bit view (WOW6432Node paths reach the 32-bit one).
func Live() Reader { return live{} }

type live struct{}

var roots = map[string]registry.Key{
	"HKLM": registry.LOCAL_MACHINE, "HKCU": registry.CURRENT_USER, "HKU": registry.USERS,
	"HKCR": registry.CLASSES_ROOT, "HKCC": registry.CURRENT_CONFIG,
}

func open(path string) (registry.Key, error) {
	c, ok := canon(path)
	if !ok {
		return 0, fmt.Errorf("registry path %.60q: no hive", path)
	}
	hive, sub, _ := strings.Cut(c, `\`)
	k, err := registry.OpenKey(roots[hive], sub, registry.QUERY_VALUE|registry.ENUMERATE_SUB_KEYS|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return 0, fmt.Errorf("%w: %.200s", ErrNotExist, path)
	}
	if err != nil {
		return 0, fmt.Errorf("opening registry key %.200s: %w", path, err)
	}
	return k, nil
}

func (live) Values(path string) (map[string]Value, error) {
	k, err := open(path)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing values of %.200s: %w", path, err)
	}
	out := make(map[string]Value, len(names))
	for _, n := range names {
		if v, ok := read(k, n); ok {
			out[n] = v
		}
	}
	return out, nil
}

// read reads one value; values that vanish or fail to read are left out.
func read(k registry.Key, name string) (Value, bool) {
	_, t, err := k.GetValue(name, nil)
	if err != nil {
		return Value{}, false
	}
	switch t {
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := k.GetStringValue(name)
		typ := String
		if t == registry.EXPAND_SZ {
			typ = ExpandString
		}
		return Value{Type: typ, Strings: []string{s}}, err == nil
	case registry.MULTI_SZ:
		ss, _, err := k.GetStringsValue(name)
		return Value{Type: MultiString, Strings: ss}, err == nil
	case registry.DWORD, registry.QWORD:
		n, _, err := k.GetIntegerValue(name)
		typ := DWord
		if t == registry.QWORD {
			typ = QWord
		}
		return Value{Type: typ, Int: n}, err == nil
	}
	b, _, err := k.GetBinaryValue(name)
	return Value{Type: Binary, Bytes: b}, err == nil
}

func (live) Subkeys(path string) ([]string, error) {
	k, err := open(path)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing subkeys of %.200s: %w", path, err)
	}
	sort.Strings(names)
	return names, nil
}

package config

import (
	"fmt"
	"strings"
)

// RegistryKey is where the Windows installer (the MSI's COLLECTOR, TOKEN
// and CAPIN properties) leaves an enrollment, under HKEY_LOCAL_MACHINE:
// Windows Installer cannot write a file from property values, but it can
// write registry values, readable by SYSTEM and Administrators only. The
// values are strings named RegCollector, RegToken and RegCAPin.
const RegistryKey = `SOFTWARE\Sonde\Enroll`

// The value names under RegistryKey.
const (
	RegCollector = "Collector"
	RegToken     = "Token"
	RegCAPin     = "CAPin"
)

// maxRegistryValue bounds each value read from RegistryKey.
const maxRegistryValue = 1 << 10

// enrollmentFromRegistry reads an enrollment through get, which returns a
// value of RegistryKey by name ("" when absent). Values are trimmed;
// control characters and values over maxRegistryValue bytes are refused.
func enrollmentFromRegistry(get func(name string) (string, error)) (Enrollment, error) {
	var e Enrollment
	for _, v := range []struct {
		name string
		dst  *string
	}{{RegCollector, &e.Collector}, {RegToken, &e.Token}, {RegCAPin, &e.CAPin}} {
		s, err := get(v.name)
		if err != nil {
			return Enrollment{}, fmt.Errorf("value %s: %w", v.name, err)
		}
		switch s = strings.TrimSpace(s); {
		case len(s) > maxRegistryValue:
			return Enrollment{}, fmt.Errorf("value %s is over %d bytes", v.name, maxRegistryValue)
		case strings.ContainsAny(s, "\x00\r\n"):
			return Enrollment{}, fmt.Errorf("control characters in value %s", v.name)
		}
		*v.dst = s
	}
	return e, nil
}

package config

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// systemEnrollment reads what the MSI left under HKLM\RegistryKey.
func systemEnrollment() (Enrollment, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, RegistryKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return Enrollment{}, nil
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf(`opening HKLM\%s: %w`, RegistryKey, err)
	}
	defer k.Close()
	e, err := enrollmentFromRegistry(func(name string) (string, error) {
		s, _, err := k.GetStringValue(name)
		switch {
		case errors.Is(err, registry.ErrNotExist):
			return "", nil
		case err != nil:
			return "", fmt.Errorf("reading it: %w", err)
		}
		return s, nil
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf(`HKLM\%s: %w`, RegistryKey, err)
	}
	return e, nil
}

// removeSystemEnrollment deletes HKLM\RegistryKey, whose token is spent.
func removeSystemEnrollment() error {
	err := registry.DeleteKey(registry.LOCAL_MACHINE, RegistryKey)
	if err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf(`deleting HKLM\%s: %w`, RegistryKey, err)
	}
	return nil
}

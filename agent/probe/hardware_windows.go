package probe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	sysreg "golang.org/x/sys/windows/registry"
)

// newHardware returns the hardware probe, which reads the registry and
// GetSystemPowerStatus on Windows.
func newHardware() Probe {
	return &hardwareProbe{goos: "windows", regValues: registryValues, powerStatus: systemPowerStatus}
}

// registryValues returns the string and integer values of a key under
// HKLM, as text, opened for reading only. (The probe's regValues seam:
// a shared registry package can take its place.)
func registryValues(path string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(path, `HKLM\`)
	if !ok {
		return nil, fmt.Errorf("registry path %q is not under HKLM", path)
	}
	k, err := sysreg.OpenKey(sysreg.LOCAL_MACHINE, rest, sysreg.QUERY_VALUE)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, fmt.Errorf("listing values of %s: %w", path, err)
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if s, _, err := k.GetStringValue(n); err == nil {
			out[n] = s
		} else if i, _, err := k.GetIntegerValue(n); err == nil {
			out[n] = strconv.FormatUint(i, 10)
		}
	}
	return out, nil
}

var procGetSystemPowerStatus = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemPowerStatus")

// systemPowerStatus calls GetSystemPowerStatus, which x/sys/windows does
// not wrap.
func systemPowerStatus() (SystemPowerStatus, error) {
	var st SystemPowerStatus // laid out as SYSTEM_POWER_STATUS
	ok, _, err := procGetSystemPowerStatus.Call(uintptr(unsafe.Pointer(&st)))
	if ok == 0 {
		if err == nil || errors.Is(err, windows.ERROR_SUCCESS) {
			err = errors.New("failed")
		}
		return st, err
	}
	return st, nil
}

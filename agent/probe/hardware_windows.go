package probe

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// newHardware returns the hardware probe, which reads the registry and
// GetSystemPowerStatus on Windows.
func newHardware() Probe {
	return &hardwareProbe{goos: "windows", regValues: liveRegistryTexts, powerStatus: systemPowerStatus}
}

// liveRegistryTexts reads a key of this machine's registry as text.
func liveRegistryTexts(path string) (map[string]string, error) {
	return winreg.Texts(winreg.Live(), path)
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

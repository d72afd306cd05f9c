package probe

// HardwareFakes replaces what the hardware probe asks Windows and macOS.
type HardwareFakes struct {
	GOOS        string
	RegValues   func(path string) (map[string]string, error)
	PowerStatus func() (SystemPowerStatus, error)
	Sysctl      func(name string) (string, error)
}

// NewTestHardware returns a hardware probe that reads the sources of
// f.GOOS, asking f for what is not a file.
func NewTestHardware(f HardwareFakes) Probe {
	return &hardwareProbe{goos: f.GOOS, regValues: f.RegValues, powerStatus: f.PowerStatus, sysctl: f.Sysctl}
}

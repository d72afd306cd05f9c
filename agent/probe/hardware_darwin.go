package probe

import "golang.org/x/sys/unix"

// newHardware returns the hardware probe, which asks sysctl on macOS.
func newHardware() Probe { return &hardwareProbe{goos: "darwin", sysctl: unix.Sysctl} }

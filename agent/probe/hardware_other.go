//go:build !windows && !darwin

package probe

import "runtime"

// newHardware returns the hardware probe, which reads /sys on Linux.
func newHardware() Probe { return &hardwareProbe{goos: runtime.GOOS} }

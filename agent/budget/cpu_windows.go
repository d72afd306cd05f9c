//go:build windows

package budget

import (
	"time"

	"golang.org/x/sys/windows"
)

// ProcessCPU returns the CPU time this process has used, user and kernel,
// or 0 where it cannot be read.
func ProcessCPU() time.Duration {
	var creation, exit, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	return filetime(kernel) + filetime(user)
}

// filetime is a Filetime that counts a duration, in 100-nanosecond steps.
func filetime(f windows.Filetime) time.Duration {
	return time.Duration((int64(f.HighDateTime)<<32 | int64(f.LowDateTime)) * 100)
}

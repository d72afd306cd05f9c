//go:build unix

package budget

import (
	"time"

	"golang.org/x/sys/unix"
)

// ProcessCPU returns the CPU time this process has used, user and system,
// or 0 where it cannot be read.
func ProcessCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

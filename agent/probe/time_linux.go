package probe

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// readKernelClock calls adjtimex(2) with modes 0: a read, not an adjustment.
func readKernelClock() (kernelClock, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return kernelClock{}, fmt.Errorf("adjtimex: %w", err)
	}
	return kernelClock{
		State:    state,
		Status:   int32(tx.Status),
		Offset:   int64(tx.Offset),
		Freq:     int64(tx.Freq),
		MaxError: int64(tx.Maxerror),
		EstError: int64(tx.Esterror),
	}, nil
}

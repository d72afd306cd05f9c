package polite

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// lowerThread puts the calling thread in the background band
// (PRIO_DARWIN_BG): lower CPU priority, throttled disk and network I/O.
func lowerThread() (func() error, error) {
	if err := unix.Setpriority(unix.PRIO_DARWIN_THREAD, 0, unix.PRIO_DARWIN_BG); err != nil {
		return nil, fmt.Errorf("moving the thread to the background band: %w", err)
	}
	return func() error {
		if err := unix.Setpriority(unix.PRIO_DARWIN_THREAD, 0, 0); err != nil {
			return fmt.Errorf("moving the thread out of the background band: %w", err)
		}
		return nil
	}, nil
}

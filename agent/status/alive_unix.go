//go:build unix

package status

import (
	"errors"
	"syscall"
)

// Alive reports whether process pid exists. A process of another user
// (the agent runs as root) answers EPERM, which is a yes.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

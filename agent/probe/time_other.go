//go:build !linux

package probe

import "errors"

// errNoKernelClock leaves the synchronisation status unknown.
var errNoKernelClock = errors.New("adjtimex is not available on this system")

// readKernelClock reports that the synchronisation status is unknown: only
// Linux has adjtimex(2), and the other systems' equivalents are left for
// later.
func readKernelClock() (kernelClock, error) {
	return kernelClock{}, errNoKernelClock
}

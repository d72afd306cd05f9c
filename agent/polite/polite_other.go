//go:build !linux && !darwin && !windows

package polite

import "errors"

// lowerThread cannot lower one thread here: the work runs at the agent's
// own priority.
func lowerThread() (func() error, error) {
	return nil, errors.ErrUnsupported
}

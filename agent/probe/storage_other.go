//go:build !linux

package probe

import "errors"

// nvmeSmartLog is Linux's: elsewhere the platform's tool reads NVMe health.
func nvmeSmartLog(string) ([]byte, error) { return nil, errors.ErrUnsupported }

package proxy

import (
	"context"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// LoadSystem reads the operating system's proxy settings (see System).
// Call it at start and when the network changes, not for every dial. It
// never fails: what it could not read is in System.Problems.
func LoadSystem(ctx context.Context) *System { return windowsSystem(winreg.Live()) }

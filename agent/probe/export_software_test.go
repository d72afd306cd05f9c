package probe

import (
	"context"
	"time"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// SoftwareFakes replaces what the software probe asks of the host beyond
// its files: the platform whose sources it reads, the registry, the
// fixed tools and the clock.
type SoftwareFakes struct {
	Platform string
	// Registry is the Windows registry; nil is none.
	Registry winreg.Reader
	// Tool answers for a fixed tool; nil means none is installed.
	Tool func(name string, args ...string) ([]byte, bool, error)
	Now  time.Time
}

// NewTestSoftware returns a software probe that asks f instead of the
// host, in the time zone of the fixture's /etc/localtime (UTC without).
func NewTestSoftware(f SoftwareFakes) Probe {
	reg := f.Registry
	if reg == nil {
		reg, _ = winreg.ParseExport([]byte("REGEDIT4\n")) // a registry without keys
	}
	tool := func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error) {
		if f.Tool == nil {
			return nil, false, notAvailable("%s is not installed", name)
		}
		return f.Tool(name, args...)
	}
	return &softwareProbe{
		platform: f.Platform,
		registry: func() winreg.Reader { return reg },
		tool:     tool,
		now:      func() time.Time { return f.Now },
		zone:     (&timeProbe{getenv: func(string) string { return "" }, local: time.UTC}).zone,
	}
}

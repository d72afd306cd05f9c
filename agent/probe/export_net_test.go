package probe

import (
	"context"
	"time"
)

// NetworkFakes replaces what the network probe asks the kernel, the
// resolver and the clock.
type NetworkFakes struct {
	Interfaces func() ([]NetworkInterface, error)
	LookupHost func(ctx context.Context, host string) ([]string, error)
	Now        func() time.Time
}

// NewTestNetwork returns a network probe that reads /proc/net and
// /etc/resolv.conf whatever the OS, and asks f for the rest.
func NewTestNetwork(f NetworkFakes) Probe {
	return &networkProbe{interfaces: f.Interfaces, lookupHost: f.LookupHost, now: f.Now, procNet: true, resolvConf: true}
}

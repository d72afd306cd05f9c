package probe

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// NetworkFakes replaces what the network probe asks the kernel, the
// resolver and the clock.
type NetworkFakes struct {
	Interfaces func() ([]NetworkInterface, error)
	LookupHost func(ctx context.Context, host string) ([]string, error)
	Now        func() time.Time
	// OwnerPIDs, OwnerFDs and OwnerBudget replace the bounds of the
	// search for sockets' owners when set.
	OwnerPIDs, OwnerFDs int
	OwnerBudget         time.Duration
}

// NewTestNetwork returns a network probe that reads /proc/net and
// /etc/resolv.conf whatever the OS, and asks f for the rest.
func NewTestNetwork(f NetworkFakes) Probe {
	p := &networkProbe{interfaces: f.Interfaces, lookupHost: f.LookupHost, now: f.Now, procNet: true, resolvConf: true,
		findOwners: hostOwnerSearch}
	p.ownerLimits = defaultOwnerLimits
	if f.OwnerPIDs > 0 {
		p.ownerLimits.pids = f.OwnerPIDs
	}
	if f.OwnerFDs > 0 {
		p.ownerLimits.fds = f.OwnerFDs
	}
	if f.OwnerBudget > 0 {
		p.ownerLimits.budget = f.OwnerBudget
	}
	return p
}

// NewTestWindowsNetwork returns a network probe that reads its sockets
// from Windows's owner-PID tables recorded in dir as <proto>.hex (hex
// digits, blanks and # comments), as GetExtendedTcpTable and
// GetExtendedUdpTable fill them, and has neither /proc/net nor
// resolv.conf.
func NewTestWindowsNetwork(f NetworkFakes, dir string) Probe {
	return &networkProbe{interfaces: f.Interfaces, lookupHost: f.LookupHost, now: f.Now,
		tables: func() ([]socketTable, error) { return hexTables(dir) }}
}

// hexTables reads the tables of dir.
func hexTables(dir string) ([]socketTable, error) {
	var out []socketTable
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		text, err := os.ReadFile(filepath.Join(dir, proto+".hex"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var digits []byte
		for line := range bytes.Lines(text) {
			line, _, _ = bytes.Cut(line, []byte("#"))
			digits = append(digits, bytes.Join(bytes.Fields(line), nil)...)
		}
		b := make([]byte, hex.DecodedLen(len(digits)))
		if _, err := hex.Decode(b, digits); err != nil {
			return nil, err
		}
		out = append(out, socketTable{proto: proto, data: b})
	}
	return out, nil
}

// SetOwnerLimits changes the bounds of a network probe's search for
// sockets' owners between calls.
func SetOwnerLimits(p Probe, pids, fds int) {
	p.(*networkProbe).ownerLimits = ownerLimits{pids: pids, fds: fds, budget: defaultOwnerLimits.budget}
}

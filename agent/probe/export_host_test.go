package probe

import (
	"context"

	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/host"
)

// NewTestSystem returns a system probe that asks users for the logged-in
// sessions instead of the architecture-dependent utmp.
func NewTestSystem(users func(ctx context.Context) ([]host.UserStat, error)) Probe {
	return &systemProbe{users: users}
}

// NewTestCPU returns a fresh cpu probe.
func NewTestCPU() Probe { return &cpuProbe{} }

// NewTestMemory returns a memory probe that reads /proc whatever the OS,
// with pages of pageSize bytes.
func NewTestMemory(pageSize uint64) Probe {
	return &memoryProbe{pageSize: pageSize, linux: true}
}

// NewTestDisk returns a disk probe that asks usage instead of statfs(2).
func NewTestDisk(usage func(ctx context.Context, path string) (*disk.UsageStat, error)) Probe {
	return &diskProbe{usage: usage}
}

// NewTestProcesses returns a processes probe with top lists of topN and
// pages of pageSize bytes.
func NewTestProcesses(topN int, pageSize uint64) Probe {
	return &processesProbe{topN: topN, pageSize: pageSize}
}

// ReadHostFile reads a file the way the probes read /proc.
func ReadHostFile(path string) ([]byte, error) {
	var out []byte
	err := withProcFile(path, func(b []byte) error {
		out = append(out, b...)
		return nil
	})
	return out, err
}

// NewTestAgent returns an agent probe that counts goroutines with n.
func NewTestAgent(n func() int) Probe { return &agentProbe{goroutines: n} }

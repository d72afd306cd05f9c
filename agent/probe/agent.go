package probe

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/internal/version"
)

func init() {
	Register("agent", Spec{Platforms: Everywhere}, func() Probe { return &agentProbe{goroutines: runtime.NumGoroutine} })
}

// agentProbe is the agent's account of itself: what it costs the machine,
// and whether its snapshots reach the collector. L2 reads it to tell a
// machine with no data from an agent that could not send any.
type agentProbe struct {
	goroutines func() int
}

// AgentResult is the agent probe's result, the same in a health snapshot.
type AgentResult struct {
	Version    string `json:"version"`
	Goroutines int    `json:"goroutines"`
	// OpenFiles and RSSBytes are -1 and 0 where the platform cannot tell.
	OpenFiles int       `json:"open_files"`
	RSSBytes  uint64    `json:"rss_bytes"`
	Delivery  *Delivery `json:"delivery,omitempty"`
}

// Delivery counts the agent's snapshots on their way to the collector,
// since the agent started.
type Delivery struct {
	Taken      uint64 `json:"taken"` // snapshots taken
	Connected  bool   `json:"connected"`
	Reconnects uint64 `json:"reconnects"`
	Delivered  uint64 `json:"delivered"` // acknowledged by the collector
	Spooled    uint64 `json:"spooled"`   // written to the spool, to send in order
	Lost       uint64 `json:"lost"`      // neither delivered nor spooled (disk full)
	// Throttled counts the times a busy collector asked the agent to hold.
	Throttled    uint64 `json:"throttled"`
	SpoolRecords int    `json:"spool_records"`
	SpoolBytes   int64  `json:"spool_bytes"`
	SpoolCap     int64  `json:"spool_cap"`
	Dropped      uint64 `json:"spool_dropped"` // oldest records dropped for the cap
	Corrupt      uint64 `json:"spool_corrupt"` // damaged records skipped
	// OverBudget counts the requests refused because the on-demand budget
	// was spent, MemoryDrops the snapshots dropped because they took the
	// agent past its memory ceiling, OnBattery the requests for heavy
	// probes held back on a low battery (the agent's battery_floor).
	OverBudget  uint64 `json:"over_budget,omitempty"`
	MemoryDrops uint64 `json:"memory_drops,omitempty"`
	OnBattery   uint64 `json:"on_battery,omitempty"`
	// RestartedFor says why the agent's previous run ended for the
	// service manager to start it again, when it did (its memory stayed
	// above its ceiling).
	RestartedFor string `json:"restarted_for,omitempty"`
}

func (p *agentProbe) Name() string { return "agent" }

func (p *agentProbe) Collect(ctx context.Context, env *Env) (any, error) {
	r := AgentResult{Version: version.Version, Goroutines: p.goroutines(), OpenFiles: -1}
	if runtime.GOOS == "linux" {
		// The kernel's count leaves out the descriptor a listing opens.
		fdDir := Path(ctx, common.HostProcEnvKey, "self", "fd")
		if n, ok := fdDirCount(fdDir); ok {
			r.OpenFiles = n
		} else if fds, err := os.ReadDir(fdDir); err == nil {
			r.OpenFiles = len(fds)
		}
		if b, err := os.ReadFile(Path(ctx, common.HostProcEnvKey, "self", "statm")); err == nil {
			// size resident shared ...: in pages.
			if f := bytes.Fields(b); len(f) > 1 {
				pages, _ := strconv.ParseUint(string(f[1]), 10, 64)
				r.RSSBytes = pages * uint64(os.Getpagesize())
			}
		}
	}
	if env.Delivery != nil {
		r.Delivery = env.Delivery()
	}
	return r, nil
}

package probe

import (
	"context"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// LogsLimits bounds what the logs probe reads and reports.
type LogsLimits = logsLimits

// DefaultLogsLimits are the logs probe's limits in the agent.
var DefaultLogsLimits = defaultLogsLimits

// LogsFakes replaces the logs probe's clock, zone, platform and tools.
type LogsFakes struct {
	Now    time.Time
	Loc    *time.Location
	GOOS   string
	Tool   func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)
	Limits LogsLimits
}

// NewTestLogs returns a logs probe that asks f instead of the host's
// clock and tools, reading the logs of platform f.GOOS.
func NewTestLogs(f LogsFakes) Probe {
	return &logsProbe{now: func() time.Time { return f.Now }, loc: f.Loc, goos: f.GOOS, tool: f.Tool, limits: f.Limits}
}

// Scrubbed returns what env's Scrub removed, by rule.
func Scrubbed(env *Env) []protocol.Scrub { return env.scrubbed() }

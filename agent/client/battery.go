package client

import (
	"context"
	"fmt"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/protocol"
)

// The battery rule: on a laptop running on its battery below the agent's
// floor (battery_floor), heavy probes (logs, software, storage health, the
// disk walk) wait, unless the request says the person at the machine
// agreed (protocol.SnapshotRequest.UserAgreed). They cost the battery
// most, and a user whose laptop is about to die is not helped by a disk
// walk. Health samples and requests without heavy probes are never held
// back. Where the agent cannot tell (macOS, a battery without a charge
// figure), nothing is held back.

// batteryWait is how long a request held back by the battery rule is told
// to wait: a laptop's charge moves by a few percent in that time.
const batteryWait = 5 * time.Minute

// OnBattery is the refusal of heavy probes on a low battery.
type OnBattery struct {
	Percent int // the battery's charge
	Floor   int // the agent's battery_floor
}

func (e *OnBattery) Error() string {
	return fmt.Sprintf("the machine is on battery at %d %%; heavy probes wait until it charges or is at %d %% or more, unless the user agrees: sonde snapshot --user-agreed", e.Percent, e.Floor)
}

// holdForBattery returns the refusal of req by the battery rule, or nil.
// It reads the power source only for requests the rule may hold back.
func (c *Client) holdForBattery(ctx context.Context, req *protocol.SnapshotRequest) *OnBattery {
	if c.BatteryFloor <= 0 || req.UserAgreed || !heavyIn(req.Probes) {
		return nil
	}
	if c.PowerRoot != "" {
		ctx = probe.WithRoot(ctx, c.PowerRoot)
	}
	ps := probe.ReadPowerSource(ctx)
	if !ps.Known || !ps.OnBattery || ps.Percent >= c.BatteryFloor {
		return nil
	}
	return &OnBattery{Percent: ps.Percent, Floor: c.BatteryFloor}
}

// batteryRefusal is the answer to req held back by the battery rule: the
// agent's CodeTooMany, as for its budget, so that the collector answers
// it alike (429, Retry-After, the latest stored snapshot to use).
func batteryRefusal(req *protocol.SnapshotRequest, held *OnBattery) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeTooMany, RequestID: req.RequestID,
		RetryAfter: min(batteryWait, protocol.MaxRetryAfter).Milliseconds(), Message: held.Error()}
}

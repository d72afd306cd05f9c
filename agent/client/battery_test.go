package client

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// TestBatteryRule drives requests through a connected client on recorded
// power supplies: on a battery below the floor, a request for a heavy
// probe is refused with CodeTooMany, a message naming the charge, the
// floor and --user-agreed, and a retry-after of five minutes, and counted;
// the same request with the user's agreement, and one without heavy
// probes, are answered. On a battery above the floor, on mains, on a
// desktop without a battery, or with the rule turned off, nothing is held
// back.
func TestBatteryRule(t *testing.T) {
	heavy := []string{"reachability"} // heavy, and quick without targets
	for _, tc := range []struct {
		tree  string
		floor int
		held  bool
	}{
		{"battery-low", 20, true},
		{"battery-low", 0, false},
		{"battery-high", 20, false},
		{"mains", 20, false},
		{"desktop", 20, false},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			col := startTestCollector(t)
			c, conn, _ := connectedClient(t, col, transport.KindQUIC, func(c *Client) {
				c.BatteryFloor, c.PowerRoot = tc.floor, filepath.Join("testdata", "power", tc.tree)
			})
			snap, err := col.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-heavy", Probes: heavy})
			if !tc.held {
				if err != nil || len(snap.Probes) != 1 || snap.Probes[0].Name != "reachability" {
					t.Fatalf("floor %d: a heavy request: %v, %v; want it answered", tc.floor, snap, err)
				}
				if n := c.Delivery().OnBattery; n != 0 {
					t.Errorf("%d requests counted as held back", n)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeTooMany || pe.RequestID != "rq-heavy" || pe.RetryAfter != batteryWait.Milliseconds() {
				t.Fatalf("a heavy request on a low battery: %v, want a CodeTooMany refusal with a 5-minute retry-after", err)
			}
			want := "the machine is on battery at 14 %; heavy probes wait until it charges or is at 20 % or more, unless the user agrees: sonde snapshot --user-agreed"
			if pe.Message != want {
				t.Errorf("refusal %q, want %q", pe.Message, want)
			}
			if n := c.Delivery().OnBattery; n != 1 {
				t.Errorf("%d requests counted as held back, want 1", n)
			}
			if snap, err := col.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-agreed", Probes: heavy, UserAgreed: true}); err != nil || snap.RequestID != "rq-agreed" {
				t.Errorf("the same request, the user agreeing: %v, %v", snap, err)
			}
			for _, light := range [][]string{nil, {"time"}} {
				snap, err := col.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-light", Probes: light, Fresh: true})
				if err != nil || len(snap.Probes) == 0 {
					t.Errorf("a request for %v (no heavy probe) on a low battery: %v, %v", light, snap, err)
				}
				for _, p := range snap.Probes {
					if strings.Contains(p.Error, "battery") {
						t.Errorf("probe %s: %s", p.Name, p.Error)
					}
				}
			}
			if n := c.Delivery().OnBattery; n != 1 {
				t.Errorf("%d requests counted as held back, want 1", n)
			}
		})
	}
}

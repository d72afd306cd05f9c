package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// TestSnapshotReportsLiveConnection: an on-demand snapshot taken while
// connected reports the connection the agent holds (its transport, a
// measured round trip, how long it has been up) and opens no new one; a
// request that asks for a connectivity check (a bundle's) gets a fresh
// handshake as well, over one more dial.
func TestSnapshotReportsLiveConnection(t *testing.T) {
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		t.Run(kind, func(t *testing.T) {
			tc := startTestCollector(t)
			c, conn, n := connectedClient(t, tc, kind)
			// TCP measures its first round trip with a ping sent as it
			// connects; QUIC in its handshake.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if l, ok := c.liveConn(); ok && l.RTT > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no round trip measured on the live connection")
				}
			}
			dials := func() int32 { return n.quic.Load() + n.tcp.Load() }
			before := dials()

			got := collectorCheck(t, tc.ask(t, conn, &protocol.SnapshotRequest{RequestID: "rq-live", Probes: []string{"network"}}))
			if d := dials() - before; d != 0 {
				t.Errorf("%d dials for a snapshot taken while connected, want none", d)
			}
			if got.Live == nil || got.Live.Transport != kind || got.Live.RTTMS <= 0 || got.Live.RTTMS > 1000 || got.Live.UpS < 0 || !got.OK {
				t.Errorf("live connection reported as %+v, ok %v", got.Live, got.OK)
			}
			if got.Handshake != nil {
				t.Errorf("a handshake was reported without being asked for: %+v", got.Handshake)
			}

			got = collectorCheck(t, tc.ask(t, conn, &protocol.SnapshotRequest{RequestID: "rq-fresh", Probes: []string{"network"}, FreshHandshake: true}))
			if d := dials() - before; d != 1 {
				t.Errorf("%d dials for a snapshot asking for a connectivity check, want 1", d)
			}
			if got.Handshake == nil || got.Handshake.Error != "" || got.Handshake.DurationMS <= 0 || !got.OK {
				t.Errorf("fresh handshake reported as %+v, ok %v", got.Handshake, got.OK)
			}
			if got.Live == nil || got.Live.Transport != kind {
				t.Errorf("the live connection is missing beside the fresh handshake: %+v", got.Live)
			}
		})
	}
}

// collectorCheck is the network probe's collector check in snap.
func collectorCheck(t *testing.T, snap *protocol.Snapshot) *probe.NetworkReachability {
	t.Helper()
	for _, p := range snap.Probes {
		if p.Name != "network" {
			continue
		}
		var r probe.NetworkResult
		if err := json.Unmarshal(p.Data, &r); err != nil || r.Collector == nil {
			t.Fatalf("network probe: %v, %s (error %q)", err, p.Data, p.Error)
		}
		return r.Collector
	}
	t.Fatal("no network probe in the snapshot")
	return nil
}

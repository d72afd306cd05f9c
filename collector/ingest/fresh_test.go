package ingest_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sondehq/sonde/collector/ingest"
)

// TestRequestFreshHandshake: a connected agent asked for its network probe
// reports the connection it holds and no handshake; asked for a
// connectivity check (as bundles ask), it times a fresh handshake too.
func TestRequestFreshHandshake(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "fresh-host")
	h.runAgent(t, id, 0)

	check := func(ctx context.Context) (live, handshake json.RawMessage) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, patience)
		defer cancel()
		sid, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"network"})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := h.store.Snapshot(t.Context(), sid)
		if err != nil || len(snap.Probes) != 1 {
			t.Fatalf("stored snapshot %d: %v, %+v", sid, err, snap)
		}
		var got struct {
			Collector struct {
				Live      json.RawMessage `json:"live"`
				Handshake json.RawMessage `json:"handshake"`
				OK        bool            `json:"ok"`
			} `json:"collector"`
		}
		if err := json.Unmarshal(snap.Probes[0].Data, &got); err != nil || !got.Collector.OK {
			t.Fatalf("network data %s: %v", snap.Probes[0].Data, err)
		}
		return got.Collector.Live, got.Collector.Handshake
	}
	if live, hs := check(t.Context()); live == nil || hs != nil {
		t.Errorf("an ordinary request: live %s, handshake %s; want the live connection alone", live, hs)
	}
	if live, hs := check(ingest.WithFreshHandshake(t.Context())); live == nil || hs == nil {
		t.Errorf("a connectivity check: live %s, handshake %s; want both", live, hs)
	}
}

package ingest_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// gatedStore holds the snapshots of one agent in PutSnapshot until the
// gate opens: a store too slow for that agent's load.
type gatedStore struct {
	store.Store
	mu    sync.Mutex
	agent string
	gate  chan struct{}
	held  int // snapshots that reached the gate
}

func (g *gatedStore) hold(agent string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.agent, g.gate = agent, make(chan struct{})
}

func (g *gatedStore) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.agent = ""
}

// waiting reports whether a snapshot waits at the gate.
func (g *gatedStore) waiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held > 0
}

func (g *gatedStore) PutSnapshot(ctx context.Context, s *store.Snapshot) (int64, bool, error) {
	g.mu.Lock()
	agent, gate := g.agent, g.gate
	if s.AgentID == agent {
		g.held++
	}
	g.mu.Unlock()
	if s.AgentID == agent {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	return g.Store.PutSnapshot(ctx, s)
}

const queueWait = 300 * time.Millisecond

func gatedHarness(t *testing.T, maxIngest int) (*harness, *gatedStore) {
	gs := &gatedStore{}
	h := newHarnessWith(t, func(c *ingest.Config) {
		gs.Store = c.Store
		c.Store, c.MaxIngest, c.QueueWait = gs, maxIngest, queueWait
	})
	return h, gs
}

// TestNoisyAgentWaitsBehindItself: an agent whose snapshots the store is
// slow to take holds one ingest slot at most; its other snapshots wait for
// its own turn and are told to retry later, while another agent's snapshot
// goes through at once.
func TestNoisyAgentWaitsBehindItself(t *testing.T) {
	t.Parallel()
	h, gs := gatedHarness(t, 2)
	noisy, quiet := h.enroll(t, "noisy"), h.enroll(t, "quiet")
	nc, qc := h.connect(t, noisy), h.connect(t, quiet)
	gs.hold(noisy.AgentID)

	first := h.snapshot(noisy.AgentID)
	acked := make(chan error, 1)
	go func() {
		_, err := exchange[*protocol.Ack](t, nc, frame(t, first))
		acked <- err
	}()
	waitUntil(t, "the noisy agent's snapshot to reach the store", gs.waiting)

	_, err := exchange[*protocol.Ack](t, nc, frame(t, h.snapshot(noisy.AgentID)))
	expectRefusal(t, "the noisy agent's second snapshot", err, protocol.CodeUnavailable, "busy")
	// One to three seconds, spread so that busy agents do not come back
	// together.
	if pe := err.(*protocol.Error); pe.RetryAfter < 1000 || pe.RetryAfter >= 3000 {
		t.Errorf("busy answer's retry-after is %d ms, want 1,000 to 3,000: %+v", pe.RetryAfter, pe)
	}
	// Had the quiet agent waited behind the noisy one, whose snapshot the
	// store still holds, it would have been told to retry.
	h.push(t, qc, h.snapshot(quiet.AgentID))
	gs.open()
	if err := <-acked; err != nil {
		t.Fatalf("the noisy agent's first snapshot, once the store took it: %v", err)
	}
	if !h.stored(t, first) {
		t.Fatal("acked snapshot not stored")
	}
	if n := h.obs.failures("busy"); n != 1 {
		t.Errorf("%d busy answers counted, want 1", n)
	}
}

// TestAgentHoldsWhenBusy runs a real agent against a collector whose only
// ingest slot is taken: told to retry later, it keeps its snapshots in its
// spool, holds back, and delivers them all once the collector has room.
func TestAgentHoldsWhenBusy(t *testing.T) {
	t.Parallel()
	h, gs := gatedHarness(t, 1)
	hog, real := h.enroll(t, "hog"), h.enroll(t, "real")
	hc := h.connect(t, hog)
	gs.hold(hog.AgentID)
	go exchange[*protocol.Ack](t, hc, frame(t, h.snapshot(hog.AgentID)))

	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{ID: real, Probes: probe.NewSet(), Facts: testFacts("real"),
		Log: slog.New(slog.DiscardHandler), HealthInterval: 100 * time.Millisecond, Spool: sp}
	runClient(t, c)

	waitUntil(t, "the agent to be told to hold and to spool", func() bool {
		d := c.Delivery()
		return d.Throttled > 0 && d.SpoolRecords > 0
	})
	if d := c.Delivery(); d.Delivered != 0 || d.Lost != 0 {
		t.Fatalf("while the collector was busy: %+v", d)
	}
	gs.open()
	// The agent keeps spooling health snapshots: compare the store with
	// its account at the moment its spool was empty, not a later one.
	var drained *probe.Delivery
	waitUntil(t, "the spool to drain", func() bool {
		drained = c.Delivery()
		return drained.SpoolRecords == 0 && drained.Delivered >= drained.Spooled
	})
	list, err := h.store.Snapshots(t.Context(), real.AgentID, store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(list)) < drained.Spooled {
		t.Fatalf("stored %d snapshots, %d were spooled", len(list), drained.Spooled)
	}
}

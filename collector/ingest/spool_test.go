package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
)

// TestSpoolWhileCollectorDown runs a real agent whose collector is not
// there yet: it keeps taking health snapshots into its spool, within the
// cap, dropping and counting the oldest; once the collector comes up, every
// spooled snapshot arrives and the spool empties.
func TestSpoolWhileCollectorDown(t *testing.T) {
	t.Parallel()
	const interval = 50 * time.Millisecond
	h := newHarness(t, interval)
	id := h.enroll(t, "spooler")

	// An address nothing listens on yet: the collector is down.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	id.Collector = addr

	const capBytes = 24 << 10 // a handful of health snapshots
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), capBytes, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	agentLog := new(syncBuffer)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog)
		}
	})
	c := &client.Client{
		ID:             id,
		Probes:         probe.NewSet(),
		Facts:          testFacts("spooler"),
		Log:            slog.New(slog.NewTextHandler(agentLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HealthInterval: interval,
		Spool:          sp,
	}
	runClient(t, c)

	waitUntil(t, "the spool to fill and drop the oldest", func() bool {
		_, b, dropped, _ := sp.Stats()
		if b > capBytes {
			t.Fatalf("spool holds %d bytes, cap %d", b, capBytes)
		}
		return dropped >= 3
	})
	d := c.Delivery()
	if d.Corrupt != 0 || d.Lost != 0 || d.Dropped < 3 || d.SpoolCap != capBytes {
		t.Fatalf("agent's account of its spool: %+v", d)
	}
	spooled := spooledSeqs(t, sp)
	droppedBefore := d.Dropped

	up := time.Now()
	// The collector comes up on the agent's address, with the same CA and
	// store as the one that enrolled it.
	srv, err := ingest.Listen(ingest.Config{
		Addr: addr, Hosts: []string{"127.0.0.1"}, CA: h.ca, Store: h.store, RequestKey: h.requestKey,
		Log: slog.New(slog.DiscardHandler), HealthInterval: interval,
	})
	if err != nil {
		t.Fatalf("Listen on %s: %v", addr, err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	t.Cleanup(func() { scancel(); <-served })

	stored := map[uint64]bool{}
	waitUntil(t, "the spool to be delivered and empty", func() bool {
		n, _, _, _ := sp.Stats()
		return n == 0 && c.Delivery().Delivered > 0
	})
	list, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		stored[s.Seq] = true
		if slices.Contains(spooled, s.Seq) && !s.CapturedAt.Before(up) {
			t.Errorf("snapshot %d, spooled before the collector came up, is stored as captured at %s (up at %s)", s.Seq, s.CapturedAt, up)
		}
	}
	// The agent went on taking snapshots until the collector came: the
	// spool may have dropped its oldest since, and only those.
	missing := 0
	for i, seq := range spooled {
		if !stored[seq] {
			missing++
			if missing != i+1 {
				t.Fatalf("spooled snapshot %d never arrived, though older ones did (spooled %v)", seq, spooled)
			}
		}
	}
	if later := c.Delivery().Dropped - droppedBefore; uint64(missing) > later {
		t.Fatalf("%d spooled snapshots never arrived; the spool dropped %d since", missing, later)
	}
}

// spooledSeqs lists the seqs of the records in sp, in order.
func spooledSeqs(t *testing.T, sp *spool.Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	var at spool.ID
	for {
		snap, next, err := sp.After(at)
		if errors.Is(err, spool.ErrEmpty) {
			return seqs
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, snap.Seq)
		at = next
	}
}

package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
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
// cap; once the collector comes up, every spooled snapshot arrives and the
// spool empties.
func TestSpoolWhileCollectorDown(t *testing.T) {
	t.Parallel()
	const interval = 200 * time.Millisecond
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

	const capBytes = 4 << 20
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), capBytes, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		ID:             id,
		Probes:         probe.NewSet(),
		Facts:          testFacts("spooler"),
		Log:            slog.New(slog.DiscardHandler),
		HealthInterval: interval,
		Spool:          sp,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(patience):
			t.Errorf("agent client did not stop within %s", patience)
		}
	})

	waitUntil(t, "health snapshots in the spool", func() bool {
		n, b, _, _ := sp.Stats()
		if b > capBytes {
			t.Fatalf("spool holds %d bytes, cap %d", b, capBytes)
		}
		return n >= 6
	})
	if _, _, dropped, corrupt := sp.Stats(); dropped != 0 || corrupt != 0 {
		t.Fatalf("spool dropped %d and found %d corrupt records", dropped, corrupt)
	}
	spooled := spooledKeys(t, sp)

	// The collector comes up on the agent's address, with the same CA and
	// store as the one that enrolled it.
	srv, err := ingest.Listen(ingest.Config{
		Addr: addr, Hosts: []string{"127.0.0.1"}, CA: h.ca, Store: h.store,
		Log: slog.New(slog.DiscardHandler), HealthInterval: interval,
	})
	if err != nil {
		t.Fatalf("Listen on %s: %v", addr, err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	t.Cleanup(func() { scancel(); <-served })

	var stored map[string]bool
	waitUntil(t, "the spool to be delivered and empty", func() bool {
		list, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		stored = map[string]bool{}
		for _, s := range list {
			stored[fmt.Sprint(s.BootEpoch, "/", s.Seq)] = true
		}
		for k := range spooled {
			if !stored[k] {
				return false
			}
		}
		n, _, _, _ := sp.Stats()
		return n == 0
	})
	if len(stored) < len(spooled) {
		t.Fatalf("store holds %d snapshots, %d were spooled", len(stored), len(spooled))
	}
}

// spooledKeys lists the (boot epoch, seq) of every record in sp, in order.
func spooledKeys(t *testing.T, sp *spool.Spool) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	var at spool.ID
	for {
		snap, next, err := sp.After(at)
		if errors.Is(err, spool.ErrEmpty) {
			return keys
		}
		if err != nil {
			t.Fatal(err)
		}
		keys[fmt.Sprint(snap.BootEpoch, "/", snap.Seq)] = true
		at = next
	}
}

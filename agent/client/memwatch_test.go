package client

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// hogSize is what the test-hog probe's result holds.
const hogSize = 24 << 20

// hogProbe is a probe made to take memory: its result holds hogSize bytes.
// It is registered in this test binary only, heavy, so that it runs when
// named alone.
type hogProbe struct{}

func (hogProbe) Name() string { return "test-hog" }
func (hogProbe) Collect(context.Context, *probe.Env) (any, error) {
	return strings.Repeat("m", hogSize), nil
}

func init() {
	probe.Register("test-hog", probe.Spec{Heavy: true, Platforms: probe.Everywhere}, func() probe.Probe { return hogProbe{} })
}

// TestMemoryCeilingDropsASnapshot: a snapshot whose probe takes the agent
// past its memory ceiling is dropped, said to the collector and counted
// (the agent probe reports it), and its memory given back: the next
// request is answered.
func TestMemoryCeilingDropsASnapshot(t *testing.T) {
	tc := startTestCollector(t)
	c, conn, _ := connectedClient(t, tc, transport.KindQUIC)
	c.MemoryCeiling = memoryInUse() + hogSize/2
	_, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-hog", Probes: []string{"test-hog"}, Fresh: true})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable || !strings.Contains(pe.Message, "the agent dropped this snapshot to protect the machine") ||
		!strings.Contains(pe.Message, "ceiling") {
		t.Fatalf("a snapshot past the ceiling: %v, want it dropped and said so", err)
	}
	if d := c.Delivery(); d.MemoryDrops != 1 {
		t.Errorf("memory drops %d, want 1", d.MemoryDrops)
	}
	if in := memoryInUse(); in > c.MemoryCeiling {
		t.Errorf("%d MiB still in use after the drop, ceiling %d MiB", in>>20, c.MemoryCeiling>>20)
	}
	snap, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-after", Probes: []string{"time"}, Fresh: true})
	if err != nil || snap.RequestID != "rq-after" {
		t.Errorf("the next request: %v, %v", snap, err)
	}
}

// leak is memory the test holds to stand for a leak in the agent.
var leak []byte

// TestMemoryCeilingEndsRun: an agent whose memory stays above its ceiling
// with nothing asked ends its run with ErrMemoryCeiling, for the service
// manager to start it again.
func TestMemoryCeilingEndsRun(t *testing.T) {
	tc := startTestCollector(t)
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), HealthInterval: 20 * time.Millisecond, Spool: sp,
		MemoryCeiling: memoryInUse() + 8<<20}
	leak = make([]byte, 32<<20)
	for i := range leak {
		leak[i] = 1 // resident, not just reserved
	}
	defer func() { leak = nil }()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); !errors.Is(err, ErrMemoryCeiling) {
		t.Fatalf("Run ended with %v, want ErrMemoryCeiling", err)
	}
}

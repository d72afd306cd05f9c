//go:build faults

package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/protocol"
)

// fleet is a few simulated machines, each a real agent client with its own
// identity, probes and spool, run in this process.
type fleet struct {
	t      *testing.T
	agents []*agent
	logs   syncBuffer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newFleet enrolls n agents with col, each with a spool of capBytes.
func newFleet(t *testing.T, col *harness.Collector, n int, name string, capBytes int64) *fleet {
	return newFleetIn(t, col, n, name, capBytes, "")
}

// newFleetIn is newFleet with the spools in folders under spools, or in
// each agent's state dir when it is empty.
func newFleetIn(t *testing.T, col *harness.Collector, n int, name string, capBytes int64, spools string) *fleet {
	f := &fleet{t: t}
	log := slog.New(slog.NewTextHandler(&f.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	token, pin := col.Token(t, n)
	for i := range n {
		host := fmt.Sprintf("%s-%02d", name, i)
		spoolDir := ""
		if spools != "" {
			spoolDir = filepath.Join(spools, host)
		}
		f.agents = append(f.agents, enrollAgent(t, col.QUIC, token, pin, host, spoolDir, capBytes, log))
	}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("agent warnings:\n%s", f.logs.String())
		}
	})
	return f
}

// start runs every agent, taking a health snapshot each interval.
func (f *fleet) start(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, a := range f.agents {
		a.first = a.newClient(interval)
		f.wg.Go(func() { a.first.Run(ctx) })
	}
}

// stop stops every agent; what they had not delivered stays spooled.
func (f *fleet) stop() {
	if f.cancel != nil {
		f.cancel()
		f.wg.Wait()
	}
}

// taken is the number of snapshots the first runs took.
func (f *fleet) taken() (n uint64) {
	for _, a := range f.agents {
		if a.first != nil {
			n += a.first.Delivery().Taken
		}
	}
	return n
}

// replay restarts every agent, as after a reboot, and waits until each
// has delivered its whole spool.
func (f *fleet) replay() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, a := range f.agents {
		c := a.newClient(time.Hour)
		f.wg.Go(func() { c.Run(ctx) })
	}
	harness.WaitFor(f.t, "every spool to drain", 3*time.Minute, func() bool {
		for _, a := range f.agents {
			if n, _, _, _ := a.spool.Stats(); n > 0 {
				return false
			}
		}
		return true
	})
	f.stop()
}

// check reads the collector's database: it must pass the integrity check
// and hold every snapshot the first runs took, exactly once.
func (f *fleet) check(col *harness.Collector) *harness.Stored {
	t := f.t
	t.Helper()
	st, err := harness.ReadStore(t.Context(), col.DB())
	if err != nil {
		t.Fatal(err)
	}
	if dups := st.Duplicates(); len(dups) > 0 {
		t.Errorf("%d snapshots stored more than once, e.g. %+v", len(dups), dups[0])
	}
	for _, a := range f.agents {
		d := a.first.Delivery()
		if d.Lost != 0 || d.Dropped != 0 || d.Corrupt != 0 {
			t.Errorf("agent %s: lost %d, dropped %d, corrupt %d", a.id.AgentID, d.Lost, d.Dropped, d.Corrupt)
		}
		epoch := st.FirstEpoch(a.id.AgentID)
		missing := 0
		for seq := uint64(1); seq <= d.Taken; seq++ {
			if st.Keys[harness.Key{Agent: a.id.AgentID, BootEpoch: epoch, Seq: seq}] != 1 {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("agent %s: %d of its %d snapshots not stored", a.id.AgentID, missing, d.Taken)
		}
	}
	return st
}

// agent is one simulated machine: a real client with its own identity,
// probes and spool.
type agent struct {
	id    *state.Identity
	spool *spool.Spool
	log   *slog.Logger
	first *client.Client // the run under faults; set before it starts
}

// enrollAgent enrolls one agent with the collector at addr; its spool is
// in spoolDir, or in its state dir when that is empty.
func enrollAgent(t *testing.T, addr, token, pin, host, spoolDir string, capBytes int64, log *slog.Logger) *agent {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.Enroll(ctx, dir, addr, token, pin, protocol.Facts{Hostname: host, OS: "linux"}, nil); err != nil {
		t.Fatalf("enrolling %s: %v", host, err)
	}
	id, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if spoolDir == "" {
		spoolDir = filepath.Join(dir, "spool")
	}
	sp, err := spool.Open(spoolDir, capBytes, log)
	if err != nil {
		t.Fatal(err)
	}
	return &agent{id: id, spool: sp, log: log.With("agent", host)}
}

func (a *agent) newClient(interval time.Duration) *client.Client {
	return &client.Client{ID: a.id, Probes: probe.NewSet(), Facts: protocol.Facts{Hostname: a.id.AgentID, OS: "linux"},
		Log: a.log, HealthInterval: interval, Spool: a.spool}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// delivered is the number of snapshots the first runs had acked.
func (f *fleet) delivered() (n uint64) {
	for _, a := range f.agents {
		if a.first != nil {
			n += a.first.Delivery().Delivered
		}
	}
	return n
}

// spoolRecords is the number of snapshots waiting in the spools.
func (f *fleet) spoolRecords() (n int) {
	for _, a := range f.agents {
		records, _, _, _ := a.spool.Stats()
		n += records
	}
	return n
}

// spooledTriggers counts the triggers of the snapshots in a's spool.
func spooledTriggers(t *testing.T, a *agent) map[string]int {
	t.Helper()
	n := map[string]int{}
	var at spool.ID
	for {
		snap, next, err := a.spool.After(at)
		if errors.Is(err, spool.ErrEmpty) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n[snap.Trigger]++
		at = next
	}
}

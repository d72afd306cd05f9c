//go:build faults

package faults

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// TestKillCollector kills the collector with SIGKILL at 20 and more random
// moments while 20 agents push 10,000 snapshots, restarting it each time.
// After the last restart and the agents' replay, every snapshot taken is
// stored exactly once and the database passes SQLite's integrity check.
func TestKillCollector(t *testing.T) {
	const (
		agents   = 20
		total    = 10_000
		minKills = 20
		interval = 40 * time.Millisecond // 20 agents: about 500 snapshots a second
	)
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, agents)

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fleet := make([]*agent, agents)
	for i := range fleet {
		fleet[i] = enrollAgent(t, col.QUIC, token, pin, fmt.Sprintf("kill-%02d", i), log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, a := range fleet {
		wg.Go(func() { a.run(ctx, interval) })
	}
	stopAgents := func() {
		cancel()
		wg.Wait()
	}
	defer stopAgents()
	taken := func() (n uint64) {
		for _, a := range fleet {
			n += a.client().Delivery().Taken
		}
		return n
	}

	kills := 0
	for kills < minKills || taken() < total {
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		col.Proc.Kill()
		kills++
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		col.Start(t)
		if kills > 5*minKills {
			t.Fatalf("only %d snapshots taken after %d kills", taken(), kills)
		}
	}
	stopAgents()
	t.Logf("%d kills while %d agents took %d snapshots", kills, agents, taken())

	// Each agent comes back (a new boot) and replays its spool.
	ctx2, cancel2 := context.WithCancel(context.Background())
	var wg2 sync.WaitGroup
	defer func() { cancel2(); wg2.Wait() }()
	for _, a := range fleet {
		wg2.Go(func() { a.runAgain(ctx2) })
	}
	harness.WaitFor(t, "every spool to drain", 3*time.Minute, func() bool {
		for _, a := range fleet {
			if n, _, _, _ := a.spool.Stats(); n > 0 {
				return false
			}
		}
		return true
	})

	st, err := harness.ReadStore(t.Context(), col.DB())
	if err != nil {
		t.Fatal(err)
	}
	if dups := st.Duplicates(); len(dups) > 0 {
		t.Errorf("%d snapshots stored more than once, e.g. %+v", len(dups), dups[0])
	}
	var stored int
	for _, a := range fleet {
		d := a.first.Delivery()
		if d.Lost != 0 || d.Dropped != 0 || d.Corrupt != 0 {
			t.Errorf("agent %s: lost %d, dropped %d, corrupt %d", a.id.AgentID, d.Lost, d.Dropped, d.Corrupt)
		}
		epoch := st.FirstEpoch(a.id.AgentID)
		for seq := uint64(1); seq <= d.Taken; seq++ {
			k := harness.Key{Agent: a.id.AgentID, BootEpoch: epoch, Seq: seq}
			if st.Keys[k] != 1 {
				t.Errorf("agent %s seq %d stored %d times", a.id.AgentID, seq, st.Keys[k])
			}
		}
		stored += int(d.Taken)
	}
	if t.Failed() {
		t.Logf("agent warnings:\n%s", logs.String())
	}
	t.Logf("stored %d snapshots of the first boots (%d rows in all), each once; integrity_check ok", stored, st.Rows)
}

// agent is one simulated machine: a real client with its own identity,
// probes and spool.
type agent struct {
	id    *state.Identity
	spool *spool.Spool
	log   *slog.Logger
	mu    sync.Mutex
	first *client.Client // the run under faults
	again *client.Client // the run that replays
}

func (a *agent) client() *client.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

// enrollAgent enrolls one agent with the collector at addr.
func enrollAgent(t *testing.T, addr, token, pin, host string, log *slog.Logger) *agent {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.Enroll(ctx, dir, addr, token, pin, protocol.Facts{Hostname: host, OS: "linux"}); err != nil {
		t.Fatalf("enrolling %s: %v", host, err)
	}
	id, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(dir, "spool"), 256<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	return &agent{id: id, spool: sp, log: log.With("agent", host)}
}

func (a *agent) newClient(interval time.Duration) *client.Client {
	return &client.Client{ID: a.id, Probes: probe.NewSet(), Facts: protocol.Facts{Hostname: a.id.AgentID, OS: "linux"},
		Log: a.log, HealthInterval: interval, Spool: a.spool}
}

// run takes health snapshots every interval until ctx ends.
func (a *agent) run(ctx context.Context, interval time.Duration) {
	c := a.newClient(interval)
	a.mu.Lock()
	a.first = c
	a.mu.Unlock()
	c.Run(ctx)
}

// runAgain starts the agent anew, as after a reboot: it replays the spool.
func (a *agent) runAgain(ctx context.Context) {
	a.again = a.newClient(time.Hour)
	a.again.Run(ctx)
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

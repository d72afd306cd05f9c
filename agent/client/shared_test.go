package client

import (
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/budget"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// TestOnDemandShared: requests for the same probes that arrive together
// share one run, and one that arrives just after gets that run's results,
// captured when they were; other processes, a connectivity check or a
// request for a fresh run make a run of their own.
func TestOnDemandShared(t *testing.T) {
	b, err := budget.New(budget.DefaultShare, budget.DefaultBurst)
	if err != nil {
		t.Fatal(err)
	}
	o := newOnDemand(b)
	set := probe.NewSet()
	var runs atomic.Int32
	release := make(chan struct{})
	run := func() []protocol.ProbeResult {
		runs.Add(1)
		<-release
		return []protocol.ProbeResult{{Name: "cpu", Data: []byte(`{}`)}}
	}
	env := &probe.Env{}
	key := runKey(set, env, []string{"cpu", "memory"})
	if other := runKey(set, env, []string{"memory", "cpu"}); other != key {
		t.Errorf("the same probes in another order make another key: %q, %q", key, other)
	}

	var wg sync.WaitGroup
	captured := make([]time.Time, 5)
	for i := range captured {
		wg.Go(func() {
			probes, at, err := o.take(t.Context(), key, []string{"cpu", "memory"}, true, run)
			if err != nil || len(probes) != 1 {
				t.Errorf("request %d: %v, %v", i, probes, err)
			}
			captured[i] = at
		})
	}
	for o.waiting(key) < 1 { // the first has started its run
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and the others joined it
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs for five requests at once, want 1", n)
	}
	for _, at := range captured {
		if !at.Equal(captured[0]) {
			t.Errorf("captured at %v and %v: not the same run", captured[0], at)
		}
	}

	// Just after: the same results again, as captured then.
	if _, at, err := o.take(t.Context(), key, nil, true, run); err != nil || !at.Equal(captured[0]) || runs.Load() != 1 {
		t.Errorf("a request just after: captured %v (%v), %d runs; want the first run's", at, err, runs.Load())
	}
	for _, c := range []struct {
		what  string
		env   *probe.Env
		reuse bool
	}{
		{"other processes", &probe.Env{Processes: []string{"java"}}, true},
		{"a connectivity check", &probe.Env{Collector: &probe.Collector{Fresh: true}}, true},
		{"a fresh run asked for", env, false},
	} {
		before := runs.Load()
		if _, _, err := o.take(t.Context(), runKey(set, c.env, []string{"cpu", "memory"}), nil, c.reuse, run); err != nil || runs.Load() != before+1 {
			t.Errorf("%s: %v, %d runs; want a run of its own", c.what, err, runs.Load()-before)
		}
	}
}

// waiting reports whether a run for key is under way (1) or not (0).
func (o *onDemand) waiting(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.running[key]; ok {
		return 1
	}
	return 0
}

// TestOverBudgetRefused: once the agent's on-demand budget is spent, a
// request is refused with CodeTooMany, saying why and when to come back,
// and no probe runs; a request that a finished run answers is not
// refused, for it costs nothing.
func TestOverBudgetRefused(t *testing.T) {
	tc := startTestCollector(t)
	c, conn, _ := connectedClient(t, tc, transport.KindQUIC)
	if _, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-first", Probes: []string{"time"}}); err != nil {
		t.Fatal(err)
	}
	c.Budget.Spend(time.Hour)
	_, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-over", Probes: []string{"memory"}})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeTooMany || pe.RequestID != "rq-over" || pe.RetryAfter < 1000 ||
		pe.RetryAfter > protocol.MaxRetryAfter.Milliseconds() {
		t.Fatalf("a request over the budget: %v, want a CodeTooMany refusal with a retry-after", err)
	}
	if want := "the agent is protecting the machine: its on-demand budget (2% of one core, 1s at once) is spent; next snapshot in "; len(pe.Message) < len(want) || pe.Message[:len(want)] != want {
		t.Errorf("refusal %q", pe.Message)
	}
	snap, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-again", Probes: []string{"time"}})
	if err != nil || snap.RequestID != "rq-again" {
		t.Errorf("a request the last run answers: %v, %v", snap, err)
	}
}

// TestOnDemandForgets: a finished run is let go once it may no longer
// answer, so its results do not stay in the agent's memory.
func TestOnDemandForgets(t *testing.T) {
	t.Parallel()
	b, err := budget.New(budget.DefaultShare, budget.DefaultBurst)
	if err != nil {
		t.Fatal(err)
	}
	o := newOnDemand(b)
	run := func() []protocol.ProbeResult { return []protocol.ProbeResult{{Name: "cpu"}} }
	if _, _, err := o.take(t.Context(), "k", nil, true, run); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(reuseFor + 5*time.Second); ; time.Sleep(50 * time.Millisecond) {
		o.mu.Lock()
		n := len(o.done)
		o.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d finished runs still held %v after they could answer", n, reuseFor+5*time.Second)
		}
	}
}

// TestHealthGoesOnUnderLoad: while requests for fresh full snapshots come
// as fast as the agent answers or refuses them, and spend its budget, its
// health samples still arrive, one after another: they are not charged.
func TestHealthGoesOnUnderLoad(t *testing.T) {
	tc := startTestCollector(t)
	tc.snaps = make(chan *protocol.Snapshot, 4096)
	tc.interval = 50 * time.Millisecond // the collector's welcome sets the pace
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	small, err := budget.New(budget.MinShare, budget.MinBurst) // spent within the first requests
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), HealthInterval: 50 * time.Millisecond, Spool: sp,
		MinHealthInterval: time.Millisecond, Budget: small}
	runUntilEnd(t, c)
	conn := <-tc.conns

	var asked, refused atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	for range 4 {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := tc.tryAsk(conn, &protocol.SnapshotRequest{RequestID: "rq-load", Fresh: true})
				if pe := (*protocol.Error)(nil); errors.As(err, &pe) && pe.Code == protocol.CodeTooMany {
					refused.Add(1)
				}
				asked.Add(1)
			}
		})
	}
	// Ten health samples after the load began, each while it went on.
	health := 0
	timeout := time.After(60 * time.Second)
	for health < 10 {
		select {
		case s := <-tc.snaps:
			if s.Kind == protocol.KindHealth && asked.Load() > 0 {
				health++
			}
		case <-timeout:
			t.Fatalf("%d health samples in 60 s under %d requests", health, asked.Load())
		}
	}
	close(stop)
	load.Wait()
	if asked.Load() < 10 || refused.Load() == 0 {
		t.Errorf("%d requests made while 10 health samples arrived, %d refused: the load did not spend the budget", asked.Load(), refused.Load())
	}
	t.Logf("10 health samples arrived under %d requests (%d refused over the budget)", asked.Load(), refused.Load())
}

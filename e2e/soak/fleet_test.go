//go:build soak

package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// fleet is the simulated agents: real client.Clients in this process, each
// with its own state dir and spool, all logging into one counter.
type fleet struct {
	addr     string        // the collector's QUIC address
	interval time.Duration // health interval
	spoolCap int64
	log      *logCounter
	agents   []*agent
	restarts atomic.Int64

	mu        sync.Mutex
	reconnect []time.Duration // restart to connected again, one per restart
	stuck     []string        // agents not back within reconnectPatience
}

const reconnectPatience = 60 * time.Second

// agent is one simulated machine. Its identity and spool outlive the
// Client instances that run on them, one per (simulated) process start.
type agent struct {
	dir   string
	facts protocol.Facts
	spool *spool.Spool
	id    string

	mu      sync.Mutex
	client  *client.Client
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	retired []*client.Client // earlier instances, for their counters
}

func newFleet(root, addr string, n int, interval time.Duration, spoolCap int64) *fleet {
	f := &fleet{addr: addr, interval: interval, spoolCap: spoolCap, log: newLogCounter()}
	base := probe.ReadFacts(context.Background())
	for i := range n {
		facts := base
		facts.Hostname = fmt.Sprintf("soak-%04d", i)
		facts.HostID = fmt.Sprintf("soak-host-%04d", i)
		f.agents = append(f.agents, &agent{dir: filepath.Join(root, facts.Hostname), facts: facts})
	}
	return f
}

// enroll enrolls every agent through client.Enroll, paced under the
// collector's CA discovery rate (50/s, burst 200), a few at a time, with
// retries. It returns how many attempts failed and were retried.
func (f *fleet) enroll(ctx context.Context, token, pin string, perSecond, concurrency int) (retried int, err error) {
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, a := range f.agents {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return retried, ctx.Err()
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for attempt := 1; ; attempt++ {
				ectx, cancel := context.WithTimeout(ctx, time.Minute)
				cfg, err := client.Enroll(ectx, a.dir, f.addr, token, pin, a.facts, nil)
				cancel()
				if err == nil {
					a.id = cfg.AgentID
					break
				}
				mu.Lock()
				if attempt == 5 || ctx.Err() != nil {
					errs = append(errs, fmt.Errorf("%s: %w", a.facts.Hostname, err))
					mu.Unlock()
					return
				}
				retried++
				f.log.note("enroll retry", err.Error())
				mu.Unlock()
				time.Sleep(time.Duration(attempt) * 2 * time.Second)
			}
			sp, err := spool.Open(filepath.Join(a.dir, "spool"), f.spoolCap, slog.New(f.log))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			a.spool = sp
		}()
	}
	wg.Wait()
	return retried, errors.Join(errs...)
}

// start runs a new Client on the agent's identity and spool: a process
// start, with a new boot epoch and a fresh probe set.
func (f *fleet) start(ctx context.Context, a *agent) error {
	id, err := state.Load(a.dir)
	if err != nil {
		return err
	}
	c := &client.Client{
		ID:             id,
		Probes:         probe.NewSet(),
		Facts:          a.facts,
		Log:            slog.New(f.log),
		HealthInterval: f.interval,
		Spool:          a.spool,
	}
	a.mu.Lock()
	// The boot epoch is Run's start in milliseconds: never two in one.
	if wait := time.Until(a.started.Add(2 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.client, a.started, a.cancel, a.done = c, time.Now(), cancel, done
	a.mu.Unlock()
	go func() { defer close(done); c.Run(runCtx) }()
	return nil
}

// stop cancels the running Client and waits for Run to return. Goroutines
// Run started (a health snapshot under way) may still finish after: they
// spool what they could not send, and the next instance replays it.
func (f *fleet) stop(a *agent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		return
	}
	a.cancel()
	<-a.done
	a.retired = append(a.retired, a.client)
	a.client = nil
}

// restart stops an agent and starts it again, then watches it reconnect.
func (f *fleet) restart(ctx context.Context, a *agent) error {
	f.stop(a)
	if err := f.start(ctx, a); err != nil {
		return err
	}
	f.restarts.Add(1)
	begin := time.Now()
	go func() {
		for time.Since(begin) < reconnectPatience {
			if ctx.Err() != nil {
				return
			}
			if a.connected() {
				f.mu.Lock()
				f.reconnect = append(f.reconnect, time.Since(begin))
				f.mu.Unlock()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		f.mu.Lock()
		f.stuck = append(f.stuck, a.facts.Hostname)
		f.mu.Unlock()
	}()
	return nil
}

// churn restarts perSecond random agents every second until stop ends;
// the agents run under ctx.
func (f *fleet) churn(ctx, stop context.Context, perSecond int) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop.Done():
			return nil
		case <-tick.C:
		}
		for range perSecond {
			if err := f.restart(ctx, f.agents[rand.IntN(len(f.agents))]); err != nil {
				return err
			}
		}
	}
}

func (a *agent) connected() bool {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	return c != nil && c.Env(false).Delivery().Connected
}

// delivery sums the agent probe's counters over every instance of the
// agent, and takes the spool's figures and the connection from the
// current one (or the spool itself when stopped).
func (a *agent) delivery() probe.Delivery {
	a.mu.Lock()
	defer a.mu.Unlock()
	var sum probe.Delivery
	for _, c := range append(a.retired[:len(a.retired):len(a.retired)], a.client) {
		if c == nil {
			continue
		}
		d := c.Env(false).Delivery()
		sum.Delivered += d.Delivered
		sum.Spooled += d.Spooled
		sum.Lost += d.Lost
		sum.Throttled += d.Throttled
		sum.Reconnects += d.Reconnects
		sum.Connected = d.Connected
	}
	sum.SpoolRecords, sum.SpoolBytes, sum.Dropped, sum.Corrupt = a.spool.Stats()
	return sum
}

// total sums delivery over the fleet and counts the connected agents.
func (f *fleet) total() (sum probe.Delivery, connected int) {
	for _, a := range f.agents {
		d := a.delivery()
		sum.Delivered += d.Delivered
		sum.Spooled += d.Spooled
		sum.Lost += d.Lost
		sum.Throttled += d.Throttled
		sum.Reconnects += d.Reconnects
		sum.SpoolRecords += d.SpoolRecords
		sum.Dropped += d.Dropped
		sum.Corrupt += d.Corrupt
		if d.Connected {
			connected++
		}
	}
	return sum, connected
}

// backlog counts the agents whose spool holds more than one snapshot, and
// the snapshots held in all.
func (f *fleet) backlog() (behind, held int) {
	for _, a := range f.agents {
		n, _, _, _ := a.spool.Stats()
		held += n
		if n > 1 {
			behind++
		}
	}
	return behind, held
}

// leftovers lists the snapshots still in the agent's spool.
func (a *agent) leftovers() ([]*protocol.Snapshot, error) {
	var out []*protocol.Snapshot
	var id spool.ID
	for {
		snap, next, err := a.spool.After(id)
		if errors.Is(err, spool.ErrEmpty) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, snap)
		id = next
	}
}

// spoolFiles counts the record files on disk, whatever the Spool believes.
func (a *agent) spoolFiles() int {
	entries, _ := os.ReadDir(filepath.Join(a.dir, "spool"))
	return len(entries)
}

// logCounter is the agents' slog handler: it counts warnings and errors by
// message and keeps a few examples, so odd behaviour shows in the summary
// without 1,000 agents' logs.
type logCounter struct {
	mu       sync.Mutex
	counts   map[string]int
	examples map[string][]string
	attrs    []slog.Attr
	root     *logCounter
}

func newLogCounter() *logCounter {
	l := &logCounter{counts: map[string]int{}, examples: map[string][]string{}}
	l.root = l
	return l
}

func (l *logCounter) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	add := func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true }
	for _, a := range l.attrs {
		add(a)
	}
	r.Attrs(add)
	l.root.note(r.Level.String()+" "+r.Message, b.String())
	return nil
}

func (l *logCounter) note(key, example string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[key]++
	if len(l.examples[key]) < 3 {
		l.examples[key] = append(l.examples[key], example)
	}
}

func (l *logCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCounter{attrs: append(l.attrs[:len(l.attrs):len(l.attrs)], attrs...), root: l.root}
}

func (l *logCounter) WithGroup(string) slog.Handler { return l }

// report lists the counted messages, most frequent first, with examples.
func (l *logCounter) report() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return l.counts[keys[i]] > l.counts[keys[j]] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %6d  %s\n", l.counts[k], k)
		for _, ex := range l.examples[k] {
			fmt.Fprintf(&b, "            e.g.%s\n", ex)
		}
	}
	return b.String()
}

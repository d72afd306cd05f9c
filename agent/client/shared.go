package client

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sondehq/sonde/agent/budget"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/protocol"
)

// On-demand work is shared and kept within the agent's budget (package
// budget): requests for the same probes that arrive together share one
// run; one that arrives within reuseFor of a finished run gets that run's
// results, captured when they were (so its age shows), unless it asks
// for a fresh run (protocol.SnapshotRequest.Fresh); only a run that
// does work is admitted by the budget and charged what it cost. At most
// one run with heavy probes (logs, software, the disk walk) is under way
// at a time: another waits its turn. Health samples are not on this path:
// they keep their own pace whatever L2 asks.

// reuseFor is how old a finished run may be to answer a request for the
// same probes that does not ask for a fresh one.
const reuseFor = 5 * time.Second

// onDemand is the shared state of the on-demand runs.
type onDemand struct {
	budget *budget.Budget
	heavy  chan struct{} // holds a token while a run with heavy probes is under way
	// memory says whether the agent is above its memory ceiling once it
	// gave back what it could (Client.overCeiling); nil checks nothing.
	memory func() error

	mu      sync.Mutex
	running map[string]*sharedRun // by key (see runKey)
	done    map[string]*sharedRun // the last finished run of each key, within reuseFor
}

// sharedRun is one run of probes that requests share.
type sharedRun struct {
	ready    chan struct{} // closed once probes and captured are set
	probes   []protocol.ProbeResult
	captured time.Time
}

func newOnDemand(b *budget.Budget) *onDemand {
	return &onDemand{budget: b, heavy: make(chan struct{}, 1), running: map[string]*sharedRun{}, done: map[string]*sharedRun{}}
}

// OverBudget is the refusal of a request the budget does not admit now.
type OverBudget struct {
	Wait   time.Duration // until the budget admits work again
	Budget string        // what the budget allows
}

func (e *OverBudget) Error() string {
	return "the agent is protecting the machine: its on-demand budget (" + e.Budget + ") is spent; next snapshot in " + e.Wait.String()
}

// errCutShort is the answer to a request that shared a run which ended
// before it ran its probes (its own request's time ran out).
var errCutShort = errors.New("the run this request shared was cut short")

// runKey tells requests that ask for the same run: the probes (the
// default ones when none are named), the processes named, and whether a
// connectivity check is asked for (a bundle's).
func runKey(set *probe.Set, env *probe.Env, names []string) string {
	if len(names) == 0 {
		names = set.Default()
	}
	names = slices.Clone(names)
	slices.Sort(names)
	procs := slices.Clone(env.Processes)
	slices.Sort(procs)
	check := "live"
	if env.Collector != nil && env.Collector.Fresh {
		check = "fresh-handshake"
	}
	return strings.Join(names, ",") + "|" + strings.Join(procs, ",") + "|" + check
}

// heavyIn reports whether names hold a heavy probe.
func heavyIn(names []string) bool {
	for _, n := range names {
		if s, ok := probe.SpecOf(n); ok && s.Heavy {
			return true
		}
	}
	return false
}

// take returns the results of a run of names: a run under way for the
// same key, one finished within reuseFor (when reuse allows), or a new one
// that the budget admits, charged what it cost. It returns an *OverBudget
// error when the budget admits none, and ctx's error when ctx ends while
// it waits.
func (o *onDemand) take(ctx context.Context, key string, names []string, reuse bool, run func() []protocol.ProbeResult) ([]protocol.ProbeResult, time.Time, error) {
	o.mu.Lock()
	if r, ok := o.running[key]; ok {
		o.mu.Unlock()
		select {
		case <-r.ready:
			if r.probes == nil {
				return nil, time.Time{}, errCutShort
			}
			return r.probes, r.captured, nil
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
	}
	if r, ok := o.done[key]; ok && reuse && time.Since(r.captured) < reuseFor {
		o.mu.Unlock()
		return r.probes, r.captured, nil
	}
	if wait, ok := o.budget.Admit(); !ok {
		o.mu.Unlock()
		return nil, time.Time{}, &OverBudget{Wait: wait, Budget: o.budget.String()}
	}
	r := &sharedRun{ready: make(chan struct{})}
	o.running[key] = r
	o.mu.Unlock()

	defer func() {
		o.mu.Lock()
		delete(o.running, key)
		if r.probes != nil {
			o.done[key] = r
			// Kept no longer than it may answer: the memory goes back
			// to the machine with the rest (see idleRelease).
			time.AfterFunc(reuseFor, func() { o.forget(key, r) })
		}
		o.mu.Unlock()
		close(r.ready)
	}()
	if heavyIn(names) {
		select {
		case o.heavy <- struct{}{}:
			defer func() { <-o.heavy }()
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
	}
	before := budget.ProcessCPU()
	r.captured = time.Now()
	r.probes = run()
	o.budget.Spend(budget.ProcessCPU() - before)
	if o.memory != nil {
		if err := o.memory(); err != nil {
			r.probes = nil
			debug.FreeOSMemory() // what the run's results held
			return nil, time.Time{}, &MemoryDropped{err}
		}
	}
	return r.probes, r.captured, nil
}

// MemoryDropped is the answer to a request whose run took the agent past
// its memory ceiling: its results are dropped.
type MemoryDropped struct{ Err error }

func (e *MemoryDropped) Error() string {
	return "the agent dropped this snapshot to protect the machine: " + e.Err.Error() + "; ask for fewer probes"
}

func (e *MemoryDropped) Unwrap() error { return e.Err }

// forget drops r, the finished run of key, unless a newer one took its
// place.
func (o *onDemand) forget(key string, r *sharedRun) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done[key] == r {
		delete(o.done, key)
	}
}

package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sondehq/sonde/agent/polite"
	"github.com/sondehq/sonde/protocol"
)

// HealthProbes are the probes of a periodic health snapshot, each run in
// its light variant.
var HealthProbes = []string{"agent", "cpu", "memory", "disk", "hardware", "network", "processes", "services", "time"}

// Set is the probes one agent runs, each instance kept across snapshots so
// it can compute rates.
type Set struct {
	probes map[string]Probe
	specs  map[string]Spec
	names  []string
	locks  map[string]*sync.Mutex
}

// NewSet instantiates every registered probe.
func NewSet() *Set {
	s := &Set{probes: map[string]Probe{}, specs: map[string]Spec{}, locks: map[string]*sync.Mutex{}}
	for _, n := range Names() {
		p, _ := New(n)
		s.probes[n] = p
		s.specs[n], _ = SpecOf(n)
		s.locks[n] = new(sync.Mutex)
		s.names = append(s.names, n)
	}
	return s
}

// Names returns the probes in the set, sorted.
func (s *Set) Names() []string { return s.names }

// Default returns the probes a snapshot runs when it names none: every
// probe in the set but the heavy ones.
func (s *Set) Default() []string {
	var names []string
	for _, n := range s.names {
		if !s.specs[n].Heavy {
			names = append(names, n)
		}
	}
	return names
}

// Run runs the named probes (the Default ones when names is empty)
// concurrently, each under its own timeout and with its own copy of env,
// and returns their results in the order asked. A probe that fails, panics
// or runs out of time is reported in its result; Run itself never fails.
// Unknown names come back as results with an error.
func (s *Set) Run(ctx context.Context, env *Env, names []string, timeout time.Duration) []protocol.ProbeResult {
	if len(names) == 0 {
		names = s.Default()
	}
	results := make([]protocol.ProbeResult, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		results[i].Name = name
		p, ok := s.probes[name]
		if !ok {
			results[i].Error = "unknown probe"
			continue
		}
		wg.Add(1)
		own := *env
		own.scrub = nil
		go func(r *protocol.ProbeResult, p Probe, lock *sync.Mutex) {
			defer wg.Done()
			runOne(ctx, p, lock, &own, timeout, r)
		}(&results[i], p, s.locks[name])
	}
	wg.Wait()
	return results
}

// runOne runs p under lock, so that a probe still stuck from an earlier
// snapshot is never entered twice: the next run waits, within its timeout.
func runOne(ctx context.Context, p Probe, lock *sync.Mutex, env *Env, timeout time.Duration, r *protocol.ProbeResult) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	type outcome struct {
		v   any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		lock.Lock()
		defer lock.Unlock()
		if ctx.Err() != nil {
			return // the caller has reported the timeout already
		}
		var o outcome
		if env.Background && !env.Health {
			o.v, o.err = collectLowered(ctx, p, env)
		} else {
			o.v, o.err = collect(ctx, p, env)
		}
		done <- o
	}()
	var o outcome
	select {
	case o = <-done:
		r.Scrubbed = env.scrubbed() // the probe is done with env
	case <-ctx.Done():
		// A probe stuck in a system call cannot be interrupted; report the
		// timeout now and let it finish in the background.
		o.err = timedOut(timeout)
	}
	r.Duration = int64(time.Since(start))
	setOutcome(r, o.v, o.err)
}

// collectLowered is collect on an OS thread of lowered priority, restored
// before it returns (see polite.Lower): a thread that cannot be restored
// stays locked to the calling goroutine, which ends right after, and the
// runtime discards it. Where lowering fails the probe runs at normal
// priority.
func collectLowered(ctx context.Context, p Probe, env *Env) (any, error) {
	leave, _ := polite.Lower()
	defer func() { _ = leave() }()
	return collect(ctx, p, env)
}

// collect runs p, turning a panic into an error.
func collect(ctx context.Context, p Probe, env *Env) (v any, err error) {
	defer func() {
		if e := recover(); e != nil {
			v, err = nil, fmt.Errorf("probe panicked: %v\n%s", e, debug.Stack())
		}
	}()
	return p.Collect(ctx, env)
}

func timedOut(timeout time.Duration) error { return fmt.Errorf("timed out after %s", timeout) }

// setOutcome puts what a probe returned into r: its error, and its value
// encoded as JSON.
func setOutcome(r *protocol.ProbeResult, v any, err error) {
	if err != nil {
		r.Error = truncateError(err.Error())
	}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			r.Error = truncateError(fmt.Sprintf("encoding result: %v", err))
			return
		}
		r.Data = b
	}
}

func truncateError(s string) string {
	if len(s) > protocol.MaxTextLen {
		s = s[:protocol.MaxTextLen-3] + "..."
	}
	return s
}

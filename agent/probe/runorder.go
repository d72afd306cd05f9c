package probe

import (
	"context"
	"sync"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// RunInOrder runs the named probes as Run does (each under its own timeout
// and with its own copy of env, results in the order asked, a failure
// reported in its result, never a failed call) but one after another on
// one goroutine instead of each on two of its own. A health snapshot's
// probes take tens of microseconds each: starting eighteen goroutines
// and waking threads on other cores for them costs the machine more CPU
// than they take, for a wall time nobody waits on. A probe still running
// at its timeout is reported as timed out and left to finish in the
// background, as Run leaves it; the probes after it go on, on a new
// goroutine.
func (s *Set) RunInOrder(ctx context.Context, env *Env, names []string, timeout time.Duration) []protocol.ProbeResult {
	if len(names) == 0 {
		names = s.Default()
	}
	q := &inOrder{set: s, ctx: ctx, env: env, names: names, timeout: timeout, results: make([]protocol.ProbeResult, len(names))}
	for i, name := range names {
		q.results[i].Name = name
	}
	q.mu.Lock()
	for q.next < len(names) {
		q.worker++
		done := make(chan struct{})
		go q.work(q.worker, done)
		q.mu.Unlock()
		q.await(done)
		q.mu.Lock()
	}
	q.worker++ // a worker left behind never writes again
	q.mu.Unlock()
	return q.results
}

// inOrder is one RunInOrder call: the probes, and how far its current
// worker goroutine got through them.
type inOrder struct {
	set     *Set
	ctx     context.Context
	env     *Env
	names   []string
	timeout time.Duration

	mu      sync.Mutex
	results []protocol.ProbeResult
	next    int       // the probe the current worker runs, or runs next
	began   time.Time // when the current worker began probe next
	worker  int       // the current worker; an older one is stuck in a probe
}

// work runs the probes from q.next on, while it is the current worker;
// it closes done after the last.
func (q *inOrder) work(id int, done chan struct{}) {
	for {
		q.mu.Lock()
		i := q.next
		if q.worker != id || i >= len(q.names) {
			if q.worker == id {
				close(done)
			}
			q.mu.Unlock()
			return
		}
		q.began = time.Now()
		q.mu.Unlock()
		r, ok := q.runOne(id, i)
		q.mu.Lock()
		if ok && q.worker == id { // else RunInOrder reported its timeout
			q.results[i] = r
			q.next = i + 1
		}
		q.mu.Unlock()
	}
}

// runOne runs probe i under its lock, so that a probe still stuck from
// an earlier snapshot is never entered twice; false when this worker was
// left behind while it waited for the lock.
func (q *inOrder) runOne(id, i int) (protocol.ProbeResult, bool) {
	r := protocol.ProbeResult{Name: q.names[i]}
	p, ok := q.set.probes[r.Name]
	if !ok {
		r.Error = "unknown probe"
		return r, true
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
	defer cancel()
	lock := q.set.locks[r.Name]
	lock.Lock()
	defer lock.Unlock()
	q.mu.Lock()
	current := q.worker == id
	q.mu.Unlock()
	if !current {
		return r, false
	}
	own := *q.env
	own.scrub = nil
	var v any
	err := ctx.Err()
	if err == nil {
		v, err = collect(ctx, p, &own)
		r.Scrubbed = own.scrubbed()
	} else {
		err = timedOut(q.timeout)
	}
	r.Duration = int64(time.Since(start))
	setOutcome(&r, v, err)
	return r, true
}

// await waits until the worker closes done, or its probe runs past the
// timeout: that probe is then reported as timed out and the worker left
// behind, for RunInOrder to start another on the next probe.
func (q *inOrder) await(done chan struct{}) {
	t := time.NewTimer(q.timeout)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		q.mu.Lock()
		late := time.Since(q.began)
		if q.next >= len(q.names) {
			q.mu.Unlock()
			<-done // the last probe is done: the worker is closing done
			return
		}
		if late >= q.timeout {
			r := &q.results[q.next]
			r.Error, r.Duration = timedOut(q.timeout).Error(), int64(late)
			q.next++
			q.worker++
			q.mu.Unlock()
			return
		}
		t.Reset(q.timeout - late)
		q.mu.Unlock()
	}
}

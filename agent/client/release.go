package client

import (
	"runtime/debug"
	"sync"
	"time"
)

// releaseAfter is how long the agent waits, after its last on-demand
// snapshot, before it gives the memory that the snapshots made the Go
// runtime hold back to the system.
//
// A burst of on-demand snapshots grows the heap to the collector's goal
// (twice the live heap: 4–5 MB here), and the runtime keeps those pages,
// returning only what lies beyond about 110 % of the goal: 200 snapshots
// took the agent's anonymous memory from 3.1 to 8.4 MB, still 8.6 MB 30 s
// later. The agent then sits idle for minutes or days; one forced
// collection (about a millisecond of CPU) once the burst is over gives the
// pages back.
const releaseAfter = 10 * time.Second

// idleRelease calls release once touch has not been called for after.
type idleRelease struct {
	after   time.Duration
	release func()
	// afterFunc is time.AfterFunc, or a test's.
	afterFunc func(time.Duration, func()) timer

	mu sync.Mutex
	t  timer
}

// timer is what idleRelease uses of a *time.Timer.
type timer interface {
	Reset(time.Duration) bool
	Stop() bool
}

// newIdleRelease returns an idleRelease that frees the Go runtime's
// unused memory (debug.FreeOSMemory).
func newIdleRelease() *idleRelease {
	return &idleRelease{after: releaseAfter, release: debug.FreeOSMemory,
		afterFunc: func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }}
}

// touch (re)starts the wait.
func (r *idleRelease) touch() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t == nil {
		r.t = r.afterFunc(r.after, r.release)
		return
	}
	r.t.Reset(r.after)
}

// stop cancels a pending release.
func (r *idleRelease) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t != nil {
		r.t.Stop()
	}
}

// Package budget keeps the agent's on-demand work within what the end
// user's machine can spare, whoever asks: a bucket of CPU time that fills
// at a steady rate (2 % of one core by default) up to a burst (1 s of CPU
// by default: a bundle's worth, and a few hundred full snapshots), so one
// L2 engineer's snapshot, bundle and diff never wait, while a flood of
// requests from any number of API keys costs the machine no more than the
// rate over time.
//
// Work is admitted while the bucket holds anything and charged what it
// cost once done, so one expensive run can take the bucket below zero;
// then nothing is admitted until the rate has paid that back.
package budget

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults: 2 % of one core, 1 s of CPU at once.
const (
	DefaultShare = 0.02
	DefaultBurst = time.Second
)

// Bounds of the settings (see New): below them the agent would refuse an
// engineer's first bundle, above them it could take a good part of the
// machine.
const (
	MinShare = 0.005
	MaxShare = 0.5
	MinBurst = 100 * time.Millisecond
	MaxBurst = time.Minute
)

// Budget is a bucket of CPU time for on-demand work. It is safe for
// concurrent use.
type Budget struct {
	share float64       // CPU seconds earned a second
	burst time.Duration // what the bucket holds when full
	now   func() time.Time

	mu    sync.Mutex
	level time.Duration // CPU time left; below zero after a costly run
	at    time.Time     // when level was last brought up to date
}

// New returns a full budget that earns share of one core (0.02 is 2 %) up
// to burst of CPU time. Settings out of bounds are an error.
func New(share float64, burst time.Duration) (*Budget, error) {
	return newAt(share, burst, time.Now)
}

func newAt(share float64, burst time.Duration, now func() time.Time) (*Budget, error) {
	if !(share >= MinShare && share <= MaxShare) {
		return nil, fmt.Errorf("on-demand CPU share %v is out of bounds (%v to %v of one core)", share, MinShare, MaxShare)
	}
	if burst < MinBurst || burst > MaxBurst {
		return nil, fmt.Errorf("on-demand CPU burst %v is out of bounds (%v to %v)", burst, MinBurst, MaxBurst)
	}
	return &Budget{share: share, burst: burst, now: now, at: now(), level: burst}, nil
}

// refill brings level up to date; the caller holds b.mu.
func (b *Budget) refill(now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.level = min(b.level+time.Duration(b.share*float64(d)), b.burst)
	}
	b.at = now
}

// Admit reports whether on-demand work may start now and, when it may
// not, how long until it may (at least a second).
func (b *Budget) Admit() (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	if b.level > 0 {
		return 0, true
	}
	// The rate pays back the debt, and a millisecond of CPU more.
	owed := float64(-b.level+time.Millisecond) / b.share
	return max(time.Duration(math.Ceil(owed/float64(time.Second)))*time.Second, time.Second), false
}

// Spend charges cpu, what admitted work cost, to the budget.
func (b *Budget) Spend(cpu time.Duration) {
	if cpu <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	b.level -= cpu
}

// String says what the budget allows, for messages: "2% of one core, 1s
// at once".
func (b *Budget) String() string {
	return fmt.Sprintf("%g%% of one core, %v at once", math.Round(b.share*1000)/10, b.burst)
}

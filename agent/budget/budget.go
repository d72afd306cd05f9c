// Package budget keeps the agent's on-demand work within what the end
// user's machine can spare, whoever asks: a bucket of CPU time that fills
// at a steady rate (2 % of one core by default) up to what that rate earns
// over a window (five minutes: 6 s of CPU), so one L2 engineer's snapshot,
// bundle and diff never wait, while a flood of requests from any number
// of API keys costs the machine no more than the rate over time.
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

// Defaults: about 2 % of one core over five minutes.
const (
	DefaultShare  = 0.02
	DefaultWindow = 5 * time.Minute
)

// Bounds of the settings (see New): below them the agent would refuse an
// engineer's first bundle, above them it could take a good part of the
// machine.
const (
	MinShare  = 0.005
	MaxShare  = 0.5
	MinWindow = time.Minute
	MaxWindow = time.Hour
)

// Budget is a bucket of CPU time for on-demand work. It is safe for
// concurrent use.
type Budget struct {
	share  float64       // CPU seconds earned a second
	window time.Duration // the bucket holds share × window
	now    func() time.Time

	mu    sync.Mutex
	level time.Duration // CPU time left; below zero after a costly run
	at    time.Time     // when level was last brought up to date
}

// New returns a full budget that earns share of one core (0.02 is 2 %) up
// to what that earns over window. Settings out of bounds are an error.
func New(share float64, window time.Duration) (*Budget, error) {
	return newAt(share, window, time.Now)
}

func newAt(share float64, window time.Duration, now func() time.Time) (*Budget, error) {
	if !(share >= MinShare && share <= MaxShare) {
		return nil, fmt.Errorf("on-demand CPU share %v is out of bounds (%v to %v of one core)", share, MinShare, MaxShare)
	}
	if window < MinWindow || window > MaxWindow {
		return nil, fmt.Errorf("on-demand budget window %v is out of bounds (%v to %v)", window, MinWindow, MaxWindow)
	}
	b := &Budget{share: share, window: window, now: now, at: now()}
	b.level = b.capacity()
	return b, nil
}

// capacity is what the bucket holds when full.
func (b *Budget) capacity() time.Duration {
	return time.Duration(b.share * float64(b.window))
}

// refill brings level up to date; the caller holds b.mu.
func (b *Budget) refill(now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.level = min(b.level+time.Duration(b.share*float64(d)), b.capacity())
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

// String says what the budget allows, for messages: "2% of one core over 5m0s".
func (b *Budget) String() string {
	return fmt.Sprintf("%g%% of one core over %v", math.Round(b.share*1000)/10, b.window)
}

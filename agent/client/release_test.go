package client

import (
	"testing"
	"time"
)

// fakeTimer is a timer the test fires.
type fakeTimer struct {
	f              func()
	resets, stops  int
	pending, fired bool
}

func (t *fakeTimer) Reset(time.Duration) bool { t.resets++; p := t.pending; t.pending = true; return p }
func (t *fakeTimer) Stop() bool               { t.stops++; p := t.pending; t.pending = false; return p }

func (t *fakeTimer) fire() {
	if t.pending {
		t.pending, t.fired = false, true
		t.f()
	}
}

// TestIdleRelease: touches restart one wait; the release comes when the
// wait ends, once; a stopped release never comes.
func TestIdleRelease(t *testing.T) {
	var ft *fakeTimer
	releases := 0
	r := &idleRelease{after: time.Second, release: func() { releases++ },
		afterFunc: func(d time.Duration, f func()) timer {
			if d != time.Second || ft != nil {
				t.Fatalf("a timer of %v, timer already made: %v", d, ft != nil)
			}
			ft = &fakeTimer{f: f, pending: true}
			return ft
		}}
	for range 3 {
		r.touch()
	}
	if ft.resets != 2 || releases != 0 {
		t.Fatalf("%d resets, %d releases after three touches", ft.resets, releases)
	}
	ft.fire()
	ft.fire()
	if releases != 1 {
		t.Fatalf("%d releases", releases)
	}
	r.touch()
	r.stop()
	ft.fire()
	if releases != 1 || ft.stops != 1 {
		t.Fatalf("%d releases, %d stops: a stopped release came", releases, ft.stops)
	}
}

// TestNewIdleRelease: the agent's release frees memory after releaseAfter
// on a real timer.
func TestNewIdleRelease(t *testing.T) {
	r := newIdleRelease()
	if r.after != releaseAfter || r.release == nil {
		t.Fatalf("%+v", r)
	}
	r.touch()
	if _, ok := r.t.(*time.Timer); !ok {
		t.Fatalf("timer %T", r.t)
	}
	r.stop()
}

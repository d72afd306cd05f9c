package loadgen

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

func TestPercentilesNearestRank(t *testing.T) {
	var l Latencies
	for i := 100; i >= 1; i-- { // order must not matter
		l.Add(time.Duration(i) * time.Millisecond)
	}
	s := l.Summary()
	want := Summary{Count: 100, Mean: 50500 * time.Microsecond, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond,
		P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if s != want {
		t.Errorf("summary %+v, want %+v", s, want)
	}
	for _, tc := range []struct {
		vals []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 51, 2},
		{[]time.Duration{1, 2, 3}, 100, 3},
		{[]time.Duration{1, 2, 3}, 0, 1},
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.vals, tc.p, got, tc.want)
		}
	}
	if got := (&Latencies{}).Summary().String(); got != "none" {
		t.Errorf("empty summary prints %q", got)
	}
}

// TestLatenciesBounded: past the limit the samples stay that many, a
// uniform sample, while count, mean and max cover everything.
func TestLatenciesBounded(t *testing.T) {
	l := Latencies{limit: 100}
	for i := range 10_000 {
		l.Add(time.Duration(i+1) * time.Microsecond)
	}
	if len(l.samples) != 100 {
		t.Fatalf("%d samples kept, want 100", len(l.samples))
	}
	s := l.Summary()
	if s.Count != 10_000 || s.Max != 10*time.Millisecond || s.Mean != 5000500*time.Nanosecond {
		t.Errorf("summary %+v", s)
	}
	// A uniform sample of 1..10,000 µs: its median is near 5 ms (this
	// bound fails by chance far less than once in a billion runs).
	if s.P50 < 3*time.Millisecond || s.P50 > 7*time.Millisecond {
		t.Errorf("median of the sample %v, want about 5 ms", s.P50)
	}
}

func TestErrCounterBounded(t *testing.T) {
	var e errCounter
	for i := range 30 {
		e.note("dialing", fmt.Errorf("error %d", i))
	}
	e.note("dialing", errors.New("error 3"))
	top := e.top()
	if len(top) != maxKinds+1 {
		t.Fatalf("%d kinds kept, want %d and other", len(top), maxKinds)
	}
	if top[0] != (Count{"other", 10}) && top[0] != (Count{"dialing: error 3", 2}) {
		t.Errorf("most frequent first: %v", top[:2])
	}
	counts := map[string]int{}
	for _, c := range top {
		counts[c.What] = c.N
	}
	if counts["other"] != 10 || counts["dialing: error 3"] != 2 {
		t.Errorf("counts %v", counts)
	}
}

// TestClosedHere: only this side's close of a connection is not counted as
// the collector's failure.
func TestClosedHere(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("sending snapshot 1: %w", &transport.ApplicationError{Remote: false, Reason: "dropped"}), true},
		{fmt.Errorf("sending snapshot 1: %w", &transport.ApplicationError{Remote: true, Code: 503}), false},
		{errors.New("timeout"), false},
	} {
		if got := closedHere(tc.err); got != tc.want {
			t.Errorf("closedHere(%v) = %v", tc.err, got)
		}
	}
}

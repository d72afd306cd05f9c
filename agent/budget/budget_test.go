package budget

import (
	"testing"
	"time"
)

// clock is a settable clock for the budget.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) pass(d time.Duration) { c.t = c.t.Add(d) }
func mustBudget(t *testing.T, c *clock) *Budget {
	t.Helper()
	b, err := newAt(0.02, time.Second, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBudget: a full budget (1 s of CPU, 2 % of one core) admits work
// until it is spent, then says how long until the rate has paid back the
// debt; it never holds more than its burst, however long it rests.
func TestBudget(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	b := mustBudget(t, c)
	// A bundle and a hundred snapshots: within the burst.
	for i := 0; i < 100; i++ {
		if _, ok := b.Admit(); !ok {
			t.Fatalf("snapshot %d refused by a fresh budget", i)
		}
		b.Spend(4 * time.Millisecond)
	}
	b.Spend(500 * time.Millisecond)
	if _, ok := b.Admit(); !ok {
		t.Fatal("refused with 0.1 s of 1 s left")
	}
	// A flood spends the rest and 1 s more: 1 s of debt at 20 ms a
	// second is 50 s, and a millisecond more is 51 s (rounded up).
	b.Spend(100*time.Millisecond + time.Second)
	wait, ok := b.Admit()
	if ok || wait != 51*time.Second {
		t.Fatalf("after the flood: admitted %v, wait %v; want refused, 51s", ok, wait)
	}
	c.pass(50 * time.Second)
	if wait, ok := b.Admit(); ok || wait != time.Second {
		t.Fatalf("50 s later: admitted %v, wait %v; want refused, 1s", ok, wait)
	}
	c.pass(time.Second)
	if _, ok := b.Admit(); !ok {
		t.Fatal("refused once the debt was paid back")
	}
	// A day's rest fills it to its burst, no more.
	c.pass(24 * time.Hour)
	b.Spend(time.Second)
	if wait, ok := b.Admit(); ok || wait != time.Second {
		t.Fatalf("after spending a full bucket: admitted %v, wait %v; want refused, 1s", ok, wait)
	}
	b.Spend(0)
	b.Spend(-time.Hour) // nothing given back
	if _, ok := b.Admit(); ok {
		t.Fatal("a negative charge refilled the budget")
	}
	if s := b.String(); s != "2% of one core, 1s at once" {
		t.Errorf("String() = %q", s)
	}
}

// TestBudgetBounds: settings outside the bounds are refused, the bounds
// themselves taken.
func TestBudgetBounds(t *testing.T) {
	for _, c := range []struct {
		share float64
		burst time.Duration
		ok    bool
	}{
		{MinShare, MinBurst, true},
		{MaxShare, MaxBurst, true},
		{MinShare / 2, DefaultBurst, false},
		{MaxShare * 1.01, DefaultBurst, false},
		{DefaultShare, MinBurst - time.Millisecond, false},
		{DefaultShare, MaxBurst + time.Millisecond, false},
		{0, DefaultBurst, false},
	} {
		if _, err := New(c.share, c.burst); (err == nil) != c.ok {
			t.Errorf("New(%v, %v): %v", c.share, c.burst, err)
		}
	}
}

// TestProcessCPU: the process's CPU time grows with work.
func TestProcessCPU(t *testing.T) {
	before := ProcessCPU()
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	_ = x
	if after := ProcessCPU(); before <= 0 || after <= before {
		t.Errorf("CPU time %v, then %v after a loop", before, after)
	}
}

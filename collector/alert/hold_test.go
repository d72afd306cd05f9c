package alert

import (
	"testing"
	"time"
)

// TestPendingAlertIsRendered: a pending alert carries its summary, with
// the figures of the latest evaluation and how long the condition has
// held; a firing one whose condition cleared keeps those of the last
// evaluation at which it held.
func TestPendingAlertIsRendered(t *testing.T) {
	rs := loadRules(t, diskRule("    for: 10m\n    summary: '{{ .Labels.mountpoint }} at {{ humanizePercent .Value }} for {{ humanizeDuration .ActiveFor }}'\n"))
	e := NewEngine(rs, Options{})
	summary := func() string {
		t.Helper()
		st := e.State()
		if len(st) != 1 {
			t.Fatalf("state %+v", st)
		}
		return st[0].Annotations["summary"]
	}
	equal(t, timeline(e, 0, 3, series(func(n int) float64 { return 0.95 + float64(n)/100 })), nil)
	if got := summary(); got != "/ at 98% for 3m" {
		t.Errorf("pending at minute 3: %q", got)
	}
	equal(t, timeline(e, 4, 12, fullDisk(0.99)), []string{"firing DiskAlmostFull{mountpoint=/} @10m"})
	equal(t, timeline(e, 13, 14, fullDisk(0.5)), nil)
	if got := summary(); got != "/ at 99% for 12m" {
		t.Errorf("firing, cleared at minute 13, seen at 14: %q", got)
	}
}

// TestKeepFiringState: while a firing alert's condition is false, the
// alert says since when, for how long its rule keeps it firing and when it
// will resolve; once the condition holds again, none of that.
func TestKeepFiringState(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 5m\n")), Options{})
	equal(t, timeline(e, 0, 1, fullDisk(0.95)), []string{"firing DiskAlmostFull{mountpoint=/} @0m"})
	if a := e.State()[0]; a.KeepFiringFor != 5*time.Minute || !a.FalseSince.IsZero() || !a.ResolvesAt.IsZero() || a.KeptFiring(minute(1)) != "" {
		t.Fatalf("firing, condition true: %+v", a)
	}
	equal(t, timeline(e, 2, 3, fullDisk(0.5)), nil)
	a := e.State()[0]
	if !a.FalseSince.Equal(minute(2)) || !a.ResolvesAt.Equal(minute(7)) || a.State != Firing {
		t.Fatalf("cleared at minute 2: %+v", a)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{minute(3), "condition cleared 1 min ago; clears in 4 min (keep_firing_for 5m)"},
		{minute(3).Add(-30 * time.Second), "condition cleared 30 s ago; clears in 5 min (keep_firing_for 5m)"},
		{minute(7), "condition cleared 5 min ago; clears at the next evaluation (keep_firing_for 5m)"},
		{minute(1), "condition cleared 0 s ago; clears in 6 min (keep_firing_for 5m)"},
	} {
		if got := a.KeptFiring(tc.at); got != tc.want {
			t.Errorf("at %s: %q, want %q", tc.at.Format(time.TimeOnly), got, tc.want)
		}
	}
	equal(t, timeline(e, 4, 4, fullDisk(0.95)), nil)
	if a := e.State()[0]; !a.FalseSince.IsZero() || !a.ResolvesAt.IsZero() || a.KeptFiring(minute(4)) != "" {
		t.Fatalf("true again at minute 4: %+v", a)
	}
}

// TestKeptFiringText: the wording for other hold-downs, for state saved
// before ResolvesAt existed, and for alerts that are not held.
func TestKeptFiringText(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		name string
		a    Alert
		want string
	}{
		{"long hold", Alert{State: Firing, FalseSince: now.Add(-61 * time.Minute), ResolvesAt: now.Add(29 * time.Minute), KeepFiringFor: 90 * time.Minute},
			"condition cleared 1 h 1 min ago; clears in 29 min (keep_firing_for 1h30m)"},
		{"hours", Alert{State: Firing, FalseSince: now.Add(-2 * time.Hour), ResolvesAt: now.Add(time.Hour), KeepFiringFor: 3 * time.Hour},
			"condition cleared 2 h ago; clears in 1 h (keep_firing_for 3h)"},
		{"seconds", Alert{State: Firing, FalseSince: now.Add(-10 * time.Second), ResolvesAt: now.Add(80 * time.Second), KeepFiringFor: 90 * time.Second},
			"condition cleared 10 s ago; clears in 1 min (keep_firing_for 1m30s)"},
		{"saved without resolves_at", Alert{State: Firing, FalseSince: now.Add(-time.Minute), KeepFiringFor: 10 * time.Minute},
			"condition cleared 1 min ago; clears in 9 min (keep_firing_for 10m)"},
		{"condition holds", Alert{State: Firing, KeepFiringFor: 5 * time.Minute}, ""},
		{"pending", Alert{State: Pending, FalseSince: now.Add(-time.Minute)}, ""},
	} {
		if got := tc.a.KeptFiring(now); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

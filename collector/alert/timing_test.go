package alert

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// step evaluates e at t0+at over agent-1 with / at ratio r and returns the
// transitions as "kind" strings.
func step(e *Engine, at time.Duration, r float64) []string {
	var out []string
	for _, tr := range e.Evaluate(t0.Add(at), fullDisk(r)(0)) {
		out = append(out, string(tr.Kind))
	}
	return out
}

// TestForAtTheNanosecond: an alert fires when its condition has held for
// exactly For, not a nanosecond sooner.
func TestForAtTheNanosecond(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 10m\n")), Options{})
	equal(t, step(e, 0, 0.95), nil)
	equal(t, step(e, 10*time.Minute-time.Nanosecond, 0.95), nil)
	if st := e.State(); len(st) != 1 || st[0].State != Pending || !st[0].StartsAt.IsZero() {
		t.Fatalf("just before For: %+v", st)
	}
	equal(t, step(e, 10*time.Minute, 0.95), []string{"firing"})
	if st := e.State(); st[0].State != Firing || !st[0].StartsAt.Equal(t0.Add(10*time.Minute)) || !st[0].ActiveAt.Equal(t0) {
		t.Fatalf("at For: %+v", st[0])
	}
}

// TestKeepFiringForAtTheNanosecond: a firing alert resolves when its
// condition has been false for exactly KeepFiringFor, counted from the
// first evaluation at which it was false.
func TestKeepFiringForAtTheNanosecond(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 5m\n")), Options{ResendInterval: time.Hour})
	equal(t, step(e, 0, 0.95), []string{"firing"})
	falseAt := 7 * time.Minute
	equal(t, step(e, falseAt, 0.5), nil)
	equal(t, step(e, falseAt+time.Minute, 0.5), nil)
	if st := e.State(); len(st) != 1 || st[0].State != Firing || !st[0].FalseSince.Equal(t0.Add(falseAt)) || !st[0].LastTrueAt.Equal(t0) {
		t.Fatalf("held down: %+v", st)
	}
	equal(t, step(e, falseAt+5*time.Minute-time.Nanosecond, 0.5), nil)
	equal(t, step(e, falseAt+5*time.Minute, 0.5), []string{"resolved"})
	if len(e.State()) != 0 {
		t.Fatalf("state after resolution: %+v", e.State())
	}
}

// TestHoldDownRestartsWhenTrueAgain: true again within the hold-down, the
// alert stays firing and the next false spell counts from its own start.
func TestHoldDownRestartsWhenTrueAgain(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 5m\n")), Options{ResendInterval: time.Hour})
	equal(t, step(e, 0, 0.95), []string{"firing"})
	equal(t, step(e, time.Minute, 0.5), nil)
	equal(t, step(e, 4*time.Minute, 0.95), nil)
	if st := e.State(); !st[0].FalseSince.IsZero() || !st[0].LastTrueAt.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("true again: %+v", st[0])
	}
	equal(t, step(e, 5*time.Minute, 0.5), nil)
	equal(t, step(e, 10*time.Minute-time.Nanosecond, 0.5), nil)
	equal(t, step(e, 10*time.Minute, 0.5), []string{"resolved"})
}

// TestPendingDropsAtOnce: a pending alert whose condition stops holding
// goes without a transition, whatever the hold-down.
func TestPendingDropsAtOnce(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 10m\n    keep_firing_for: 1h\n")), Options{})
	equal(t, step(e, 0, 0.95), nil)
	equal(t, step(e, time.Minute, 0.5), nil)
	if st := e.State(); len(st) != 0 {
		t.Fatalf("pending alert kept: %+v", st)
	}
	// It starts again from zero.
	equal(t, step(e, 2*time.Minute, 0.95), nil)
	equal(t, step(e, 12*time.Minute-time.Nanosecond, 0.95), nil)
	equal(t, step(e, 12*time.Minute, 0.95), []string{"firing"})
}

// TestRefireAtTheNanosecond: a firing alert is sent again exactly every
// ResendInterval after the last send.
func TestRefireAtTheNanosecond(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{ResendInterval: 10 * time.Minute})
	equal(t, step(e, 0, 0.95), []string{"firing"})
	equal(t, step(e, 10*time.Minute-time.Nanosecond, 0.95), nil)
	equal(t, step(e, 10*time.Minute, 0.95), []string{"refire"})
	equal(t, step(e, 20*time.Minute-time.Nanosecond, 0.95), nil)
	equal(t, step(e, 20*time.Minute, 0.95), []string{"refire"})
	if st := e.State(); !st[0].LastSentAt.Equal(t0.Add(20*time.Minute)) || !st[0].StartsAt.Equal(t0) || !st[0].Notified {
		t.Fatalf("after two refires: %+v", st[0])
	}
}

func TestDefaultOptions(t *testing.T) {
	for _, opts := range []Options{{}, {ResendInterval: -time.Second, MaxAlerts: -1}} {
		e := NewEngine(loadRules(t, diskRule("")), opts)
		equal(t, step(e, 0, 0.95), []string{"firing"})
		equal(t, step(e, 5*time.Minute-time.Nanosecond, 0.95), nil)
		equal(t, step(e, 5*time.Minute, 0.95), []string{"refire"})
	}
	if DefaultKeepFiringFor != 5*time.Minute {
		t.Errorf("DefaultKeepFiringFor = %v", DefaultKeepFiringFor)
	}
	r := loadRules(t, diskRule("")).Rules()[0]
	if r.For != 0 || r.KeepFiringFor != DefaultKeepFiringFor {
		t.Errorf("defaults of a rule: for %v, keep_firing_for %v", r.For, r.KeepFiringFor)
	}
}

// TestSilenceAtItsEdges: a silence mutes from its start, inclusive, to
// its end, exclusive; the firing notification goes out at its end.
func TestSilenceAtItsEdges(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{ResendInterval: time.Hour})
	s := rootSilence(0, 10)
	e.SetSilences([]Silence{s})
	equal(t, step(e, 0, 0.95), nil)
	equal(t, step(e, 10*time.Minute-time.Nanosecond, 0.95), nil)
	if st := e.State(); !slices.Equal(st[0].Silenced, []string{"s1"}) || st[0].Notified {
		t.Fatalf("silenced: %+v", st[0])
	}
	equal(t, step(e, 10*time.Minute, 0.95), []string{"firing"})

	// A silence needs every matcher to hold; one for another mount point
	// mutes nothing here.
	e = NewEngine(loadRules(t, diskRule("")), Options{})
	other := rootSilence(0, 10)
	other.Matchers = append(other.Matchers, Matcher{Name: "agent_id", Value: "agent-2"})
	e.SetSilences([]Silence{other})
	equal(t, step(e, 0, 0.95), []string{"firing"})
}

func TestSilenceValidate(t *testing.T) {
	if err := (&Silence{}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "no id") || !strings.Contains(err.Error(), "no matcher") || !strings.Contains(err.Error(), "ends before it starts") {
		t.Errorf("empty silence: %v", err)
	}
	s := rootSilence(0, 1)
	s.Matchers = append(s.Matchers, Matcher{Name: "9lives", Value: "x"})
	if err := s.Validate(); err == nil || err.Error() != `invalid label name "9lives"` {
		t.Errorf("bad label: %v", err)
	}
	s = rootSilence(1, 0)
	if err := s.Validate(); err == nil || err.Error() != "silence ends before it starts" {
		t.Errorf("reversed: %v", err)
	}
	ms, err := ParseMatchers("url=http://x/?a=b")
	if err != nil || len(ms) != 1 || ms[0].Value != "http://x/?a=b" || ms[0].String() != "url=http://x/?a=b" {
		t.Errorf("value with =: %v %v", ms, err)
	}
	if _, err := ParseMatchers("a=1,,b=2"); err == nil || err.Error() != `invalid matcher "" (want label=value)` {
		t.Errorf("empty part: %v", err)
	}
}

// TestRestoreKeepsAlertsWhole: restored alerts keep their labels and
// times, and the bound on alerts applies to them too.
func TestRestoreKeepsAlertsWhole(t *testing.T) {
	rs := loadRules(t, diskRule(""))
	e := NewEngine(rs, Options{})
	e.Evaluate(t0, []Input{agentInput(healthDoc(t0, probes{"disk": disk("/a", 0.95, "/b", 0.95, "/c", 0.95)}))})
	saved := e.State()
	if len(saved) != 3 {
		t.Fatalf("state %+v", saved)
	}
	for _, limit := range []int{2, 3} {
		e2 := NewEngine(rs, Options{MaxAlerts: limit})
		e2.Restore(saved)
		got := e2.State()
		if len(got) != limit {
			t.Fatalf("MaxAlerts %d: restored %d", limit, len(got))
		}
		for _, a := range got {
			i := slices.IndexFunc(saved, func(s Alert) bool { return s.Fingerprint == a.Fingerprint })
			if i < 0 || !maps.Equal(a.Labels, saved[i].Labels) || !a.StartsAt.Equal(t0) || a.State != Firing || !a.Notified {
				t.Fatalf("restored %+v, saved %+v", a, saved)
			}
		}
	}
	// An alert saved without labels comes back with an empty set, which
	// encodes as an object.
	e2 := NewEngine(rs, Options{})
	e2.Restore([]Alert{{Fingerprint: "f", Rule: "DiskAlmostFull", State: Pending}})
	b, err := json.Marshal(e2.State())
	if err != nil || !strings.Contains(string(b), `"labels":{}`) {
		t.Fatalf("restored without labels: %s %v", b, err)
	}
	// Restoring a copy: changing what was passed leaves the engine alone.
	saved[0].Labels["mountpoint"] = "changed"
	e2.Restore(saved)
	saved[0].Labels["mountpoint"] = "changed again"
	for _, a := range e2.State() {
		if a.Labels["mountpoint"] == "changed again" {
			t.Fatal("Restore kept the caller's map")
		}
	}
}

// TestTransitionsOrder: transitions come by rule name, then fingerprint.
func TestTransitionsOrder(t *testing.T) {
	rs := loadRules(t, `rules:
  - name: Zed
    expr: disk.used_ratio > 0.9
    severity: info
  - name: Alpha
    expr: disk.used_ratio > 0.9
    severity: info
`)
	d := healthDoc(t0, probes{"disk": disk("/a", 0.95, "/b", 0.95)})
	trs := NewEngine(rs, Options{}).Evaluate(t0, []Input{agentInput(d)})
	var got []string
	for _, tr := range trs {
		got = append(got, tr.Alert.Rule)
	}
	if !slices.Equal(got, []string{"Alpha", "Alpha", "Zed", "Zed"}) ||
		trs[0].Alert.Fingerprint > trs[1].Alert.Fingerprint || trs[2].Alert.Fingerprint > trs[3].Alert.Fingerprint {
		t.Fatalf("order %v", trs)
	}
}

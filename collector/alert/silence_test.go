package alert

import (
	"slices"
	"testing"
)

func rootSilence(from, to int) Silence {
	return Silence{
		ID: "s1", Matchers: []Matcher{{Name: "mountpoint", Value: "/"}, {Name: "alertname", Value: "DiskAlmostFull"}},
		StartsAt: minute(from), EndsAt: minute(to), CreatedBy: "alice", Comment: "disk upgrade tonight",
	}
}

func TestSilenceMutesThenResumes(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 10m\n")), Options{})
	e.SetSilences([]Silence{rootSilence(5, 30)})
	in := func(n int) []Input {
		return []Input{agentInput(healthDoc(minute(n), probes{"disk": disk("/", 0.95, "/home", 0.96)}))}
	}
	got := timeline(e, 0, 29, in)
	// /home is not silenced; / fires silently at 10.
	equal(t, only(got, "firing", "resolved"), []string{"firing DiskAlmostFull{mountpoint=/home} @10m"})
	for _, a := range e.State() {
		want := []string(nil)
		if a.Labels["mountpoint"] == "/" {
			want = []string{"s1"}
		}
		if a.State != Firing || !slices.Equal(a.Silenced, want) {
			t.Fatalf("state of %s: %+v", describeAlert(a), a)
		}
	}
	// The silence ends at 30: / is notified then, with its real start.
	got = only(timeline(e, 30, 31, in), "firing")
	equal(t, got, []string{"firing DiskAlmostFull{mountpoint=/} @30m"})
	for _, a := range e.State() {
		if !a.StartsAt.Equal(minute(10)) || len(a.Silenced) != 0 {
			t.Fatalf("after the silence: %+v", a)
		}
	}
}

func TestSilenceNoRefireButResolution(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 1m\n")), Options{})
	e.SetSilences([]Silence{rootSilence(2, 60)})
	got := timeline(e, 0, 30, series(func(n int) float64 {
		if n < 20 {
			return 0.95
		}
		return 0.5
	}))
	// Notified at 0, muted from 2 (no refire), and its resolution still
	// goes out so that nothing downstream stays open.
	equal(t, got, []string{"firing DiskAlmostFull{mountpoint=/} @0m", "resolved DiskAlmostFull{mountpoint=/} @21m"})

	// Fired and cleared within a silence: nothing at all.
	e = NewEngine(loadRules(t, diskRule("    keep_firing_for: 1m\n")), Options{})
	e.SetSilences([]Silence{rootSilence(0, 60)})
	equal(t, timeline(e, 0, 30, series(func(n int) float64 { return []float64{0.95, 0.5}[min(n/10, 1)] })), nil)
}

func TestSilenceMatching(t *testing.T) {
	s := rootSilence(0, 10)
	labels := map[string]string{"mountpoint": "/", "alertname": "DiskAlmostFull", "agent_id": "a"}
	if !s.Matches(labels) || !s.Active(minute(0)) || s.Active(minute(10)) || s.Active(minute(-1)) {
		t.Fatal("silence should match and be active within [start, end)")
	}
	labels["mountpoint"] = "/home"
	if s.Matches(labels) {
		t.Fatal("silence matched another mount")
	}
	if (&Silence{}).Matches(labels) {
		t.Fatal("a silence without matchers matched")
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Silence{Matchers: []Matcher{{Name: "bad name"}}, StartsAt: minute(1), EndsAt: minute(1)}
	if err := bad.Validate(); err == nil {
		t.Fatal("bad silence validated")
	}
	ms, err := ParseMatchers("agent_id=a1, mountpoint=/")
	if err != nil || !slices.Equal(ms, []Matcher{{"agent_id", "a1"}, {"mountpoint", "/"}}) {
		t.Fatalf("ParseMatchers: %v %v", ms, err)
	}
	for _, bad := range []string{"", "novalue", "=x", "a b=c"} {
		if _, err := ParseMatchers(bad); err == nil {
			t.Errorf("ParseMatchers(%q) accepted", bad)
		}
	}
	e := NewEngine(loadRules(t, diskRule("")), Options{})
	e.SetSilences([]Silence{s})
	if got := e.Silences(); len(got) != 1 || got[0].ID != "s1" {
		t.Fatalf("Silences: %v", got)
	}
}

package alert

import (
	"encoding/json"
	"testing"
	"time"
)

// fullDisk is agent-1 with / at ratio r.
func fullDisk(r float64) func(n int) []Input {
	return func(n int) []Input {
		return []Input{agentInput(healthDoc(minute(n), probes{"disk": disk("/", r)}))}
	}
}

// series switches the disk's ratio by minute.
func series(ratio func(n int) float64) func(n int) []Input {
	return func(n int) []Input { return fullDisk(ratio(n))(n) }
}

func TestForDuration(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 10m\n")), Options{})
	equal(t, timeline(e, 0, 9, fullDisk(0.95)), nil)
	st := e.State()
	if len(st) != 1 || st[0].State != Pending || !st[0].ActiveAt.Equal(t0) {
		t.Fatalf("after 9 minutes: %+v, want one pending alert active since t0", st)
	}
	equal(t, timeline(e, 10, 12, fullDisk(0.95)), []string{"firing DiskAlmostFull{mountpoint=/} @10m"})
	if st := e.State(); st[0].State != Firing || !st[0].StartsAt.Equal(minute(10)) || !st[0].EndsAt.IsZero() {
		t.Fatalf("after 12 minutes: %+v", st[0])
	}
}

func TestPendingClearsSilently(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 10m\n")), Options{})
	got := timeline(e, 0, 30, series(func(n int) float64 {
		if n == 8 || n == 17 {
			return 0.5 // clears just before it would fire
		}
		return 0.95
	}))
	// Each clear starts the wait again: fires at 18+10, not at 10 or 18.
	equal(t, got, []string{"firing DiskAlmostFull{mountpoint=/} @28m"})
}

func TestResolveAfterHoldDown(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 2m\n")), Options{})
	got := timeline(e, 0, 30, series(func(n int) float64 {
		if n < 10 {
			return 0.95
		}
		return 0.5
	}))
	// False from minute 10; the default hold-down is 5 minutes.
	equal(t, only(got, "firing", "resolved"), []string{
		"firing DiskAlmostFull{mountpoint=/} @2m",
		"resolved DiskAlmostFull{mountpoint=/} @15m",
	})
	if st := e.State(); len(st) != 0 {
		t.Fatalf("state after resolution: %+v", st)
	}

	e = NewEngine(loadRules(t, diskRule("    keep_firing_for: 0s\n")), Options{})
	got = timeline(e, 0, 3, series(func(n int) float64 { return []float64{0.95, 0.95, 0.5, 0.5}[n] }))
	equal(t, got, []string{"firing DiskAlmostFull{mountpoint=/} @0m", "resolved DiskAlmostFull{mountpoint=/} @2m"})
}

func TestResolvedTransitionCarriesTimes(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 1m\n")), Options{})
	e.Evaluate(minute(0), fullDisk(0.97)(0))
	e.Evaluate(minute(1), fullDisk(0.5)(1))
	trs := e.Evaluate(minute(2), fullDisk(0.5)(2))
	if len(trs) != 1 || trs[0].Kind != KindResolved {
		t.Fatalf("transitions: %+v", trs)
	}
	a := trs[0].Alert
	if a.State != Resolved || !a.StartsAt.Equal(minute(0)) || !a.EndsAt.Equal(minute(2)) || a.Value != 0.97 {
		t.Fatalf("resolved alert: %+v", a)
	}
}

func TestFlapping(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    for: 2m\n")), Options{})
	got := timeline(e, 0, 60, series(func(n int) float64 {
		switch {
		case n < 5:
			return 0.95
		case n < 40: // true, false, true ... every minute
			return []float64{0.5, 0.95}[n%2]
		}
		return 0.5
	}))
	equal(t, only(got, "firing", "resolved"), []string{
		"firing DiskAlmostFull{mountpoint=/} @2m",
		"resolved DiskAlmostFull{mountpoint=/} @45m",
	})
	// Refires every 5 minutes while it fires.
	if n := len(only(got, "refire")); n != 8 {
		t.Fatalf("%d refires, want 8: %q", n, got)
	}
}

func TestRefireInterval(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{ResendInterval: 10 * time.Minute})
	got := timeline(e, 0, 25, fullDisk(0.95))
	equal(t, got, []string{
		"firing DiskAlmostFull{mountpoint=/} @0m",
		"refire DiskAlmostFull{mountpoint=/} @10m",
		"refire DiskAlmostFull{mountpoint=/} @20m",
	})
}

func TestFingerprintDedup(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{})
	in := fullDisk(0.95)(0)
	first := e.Evaluate(t0, in)
	second := e.Evaluate(t0, in)
	if len(first) != 1 || len(second) != 0 || len(e.State()) != 1 {
		t.Fatalf("two evaluations: %v then %v, state %v", first, second, e.State())
	}
	// The same series twice in one snapshot is one alert.
	d := healthDoc(t0, probes{"disk": disk("/", 0.95, "/", 0.99)})
	e = NewEngine(loadRules(t, diskRule("")), Options{})
	if trs := e.Evaluate(t0, []Input{agentInput(d)}); len(trs) != 1 {
		t.Fatalf("duplicate mount: %v", trs)
	}

	// Two mounts, two agents: four alerts, four fingerprints.
	e = NewEngine(loadRules(t, diskRule("")), Options{})
	d = healthDoc(t0, probes{"disk": disk("/", 0.95, "/home", 0.97, "/boot", 0.2)})
	other := agentInput(d)
	other.AgentID = "agent-2"
	trs := e.Evaluate(t0, []Input{agentInput(d), other})
	fps := map[string]bool{}
	for _, tr := range trs {
		fps[tr.Alert.Fingerprint] = true
	}
	if len(trs) != 4 || len(fps) != 4 {
		t.Fatalf("transitions %v", trs)
	}
	// The fingerprint is stable: it does not depend on the hostname, the
	// value or the time.
	a := fingerprint("DiskAlmostFull", map[string]string{"mountpoint": "/", "agent_id": "agent-1"})
	renamed := agentInput(healthDoc(t0, probes{"disk": disk("/", 0.99)}))
	renamed.Hostname = "ws-renamed"
	e = NewEngine(loadRules(t, diskRule("")), Options{})
	if trs := e.Evaluate(t0.Add(time.Hour), []Input{renamed}); len(trs) != 1 || trs[0].Alert.Fingerprint != a {
		t.Fatalf("fingerprint %v, want %s", trs, a)
	}
}

func TestAgentLeftOutResolves(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("    keep_firing_for: 2m\n")), Options{})
	got := timeline(e, 0, 5, func(n int) []Input {
		if n < 2 {
			return fullDisk(0.95)(n)
		}
		return nil
	})
	equal(t, got, []string{"firing DiskAlmostFull{mountpoint=/} @0m", "resolved DiskAlmostFull{mountpoint=/} @4m"})
}

func TestStateRestore(t *testing.T) {
	rs := loadRules(t, diskRule("    for: 2m\n    keep_firing_for: 2m\n"))
	e := NewEngine(rs, Options{})
	equal(t, timeline(e, 0, 3, fullDisk(0.95)), []string{"firing DiskAlmostFull{mountpoint=/} @2m"})
	b, err := json.Marshal(e.State())
	if err != nil {
		t.Fatal(err)
	}
	var saved []Alert
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	// A restarted collector neither fires again nor forgets to resolve.
	e2 := NewEngine(rs, Options{})
	e2.Restore(append(saved, Alert{}, Alert{Fingerprint: "x", State: Resolved}))
	if len(e2.State()) != 1 {
		t.Fatalf("restored %+v", e2.State())
	}
	got := timeline(e2, 4, 9, series(func(n int) float64 { return []float64{0.95, 0.5}[min(n-4, 1)] }))
	equal(t, got, []string{"resolved DiskAlmostFull{mountpoint=/} @7m"})
}

func TestRuleRemovedResolves(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{})
	e.Evaluate(t0, fullDisk(0.95)(0))
	e.src = loadRules(t, "rules: []\n")
	trs := e.Evaluate(minute(1), fullDisk(0.95)(1))
	if len(trs) != 1 || trs[0].Kind != KindResolved || trs[0].Alert.Rule != "DiskAlmostFull" {
		t.Fatalf("after the rule went: %+v", trs)
	}
}

func TestOfflineRule(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(rs, Options{})
	lastSeen := minute(0)
	got := timeline(e, 1, 20, func(n int) []Input {
		in := Input{AgentID: "agent-1", Hostname: "ws-0042", LastSeen: lastSeen, Online: n >= 15}
		if n >= 15 {
			in.LastSeen = minute(n)
		}
		return []Input{in}
	})
	equal(t, got, []string{"firing AgentOffline{} @11m", "resolved AgentOffline{} @15m"})
	trs := e.Evaluate(minute(40), []Input{{AgentID: "agent-1", Hostname: "ws-0042", LastSeen: minute(20)}})
	if len(trs) != 1 || trs[0].Alert.Annotations["summary"] != "ws-0042 has not been seen for 20m" {
		t.Fatalf("offline again: %+v", trs)
	}
	// An agent never seen has no offline time.
	if trs := NewEngine(rs, Options{}).Evaluate(minute(40), []Input{{AgentID: "agent-9"}}); len(trs) != 0 {
		t.Fatalf("never seen: %+v", trs)
	}
}

func TestNoRules(t *testing.T) {
	var none *RuleSet
	if trs := NewEngine(none, Options{}).Evaluate(t0, fullDisk(0.99)(0)); trs != nil {
		t.Fatalf("%+v", trs)
	}
}

func TestMaxAlerts(t *testing.T) {
	e := NewEngine(loadRules(t, diskRule("")), Options{MaxAlerts: 2})
	d := healthDoc(t0, probes{"disk": disk("/a", 0.95, "/b", 0.95, "/c", 0.95)})
	if trs := e.Evaluate(t0, []Input{agentInput(d)}); len(trs) != 2 || len(e.State()) != 2 {
		t.Fatalf("%v", trs)
	}
}

package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// TestDefaultPackOnHealthSample runs the default rules over a real health
// snapshot, re-sent every minute for 20 minutes.
func TestDefaultPackOnHealthSample(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	sample := loadHealth(t)
	e := NewEngine(rs, Options{})
	got := timeline(e, 0, 20, func(n int) []Input {
		d := *sample
		d.CapturedAt = minute(n)
		return []Input{{AgentID: "a1b2c3d4", Health: &d, LastSeen: minute(n), Online: true}}
	})
	// / is 93% full, vpnagentd failed, no resolver, memory stalls 27.5%.
	equal(t, got, []string{
		"firing DNSFailing{} @5m",
		"firing ServiceFailed{unit=vpnagentd.service} @5m",
		"refire DNSFailing{} @10m",
		"firing DiskAlmostFull{mountpoint=/} @10m",
		"firing MemoryStalls{} @10m",
		"refire ServiceFailed{unit=vpnagentd.service} @10m",
		"refire DNSFailing{} @15m",
		"refire DiskAlmostFull{mountpoint=/} @15m",
		"refire MemoryStalls{} @15m",
		"refire ServiceFailed{unit=vpnagentd.service} @15m",
		"refire DNSFailing{} @20m",
		"refire DiskAlmostFull{mountpoint=/} @20m",
		"refire MemoryStalls{} @20m",
		"refire ServiceFailed{unit=vpnagentd.service} @20m",
	})
	for _, a := range e.State() {
		if a.Annotations["summary"] == "" || a.Labels["hostname"] != "ws-0042" {
			t.Errorf("%s: %+v", describeAlert(a), a)
		}
		if a.Rule == "DiskAlmostFull" && a.Annotations["summary"] != "Disk / on ws-0042 is 93% full" {
			t.Errorf("summary %q", a.Annotations["summary"])
		}
	}
}

// TestDefaultPackSeries plays a machine whose CPU, clock and network
// degrade and recover, sampled every minute.
func TestDefaultPackSeries(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	doc := func(n int) *protocol.Document {
		cpu, offset, errs := 10.0, 0.0, 1000.0
		if n >= 10 && n < 40 {
			cpu = 97
		}
		if n >= 5 && n < 30 {
			offset = 5000
		}
		if n >= 20 {
			errs += float64(n-20) * 120 // 2 errors a second from minute 20
		}
		if n >= 45 {
			errs = 1000 + 25*120
		}
		return healthDoc(minute(n), probes{
			"cpu":     map[string]any{"usage_percent": cpu},
			"time":    map[string]any{"synced": true, "sync_known": true, "collector": map[string]any{"known": true, "offset_ms": offset, "rtt_ms": 10}},
			"network": map[string]any{"interfaces": []map[string]any{{"name": "eth0", "errors": errs}}, "resolvers": 1},
		})
	}
	e := NewEngine(rs, Options{ResendInterval: time.Hour})
	got := timeline(e, 0, 60, func(n int) []Input {
		in := agentInput(doc(n))
		if n > 0 {
			in.Previous = doc(n - 1)
		}
		return []Input{in}
	})
	equal(t, got, []string{
		"firing ClockSkew{} @15m",
		"firing HighCPU{} @25m",
		"firing InterfaceErrors{interface=eth0} @31m",
		"resolved ClockSkew{} @35m",
		"resolved HighCPU{} @45m",
		"resolved InterfaceErrors{interface=eth0} @51m",
	})
}

func TestAlertJSON(t *testing.T) {
	a := Alert{Fingerprint: "f", Rule: "R", State: Firing, ActiveAt: t0, LastTrueAt: t0}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"starts_at", "ends_at", "false_since", "last_sent_at", "resolves_at", "keep_firing", "keep_firing_for"} {
		if _, ok := m[absent]; ok {
			t.Errorf("%s present in %s", absent, b)
		}
	}
}

// TestDefaultPackFault: a snapshot the agent took at a fault fires
// FaultReported for its trigger at once, and it resolves once the fault
// snapshot is older than FaultWindow.
func TestDefaultPackFault(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(rs, Options{ResendInterval: time.Hour})
	got := timeline(e, 0, 30, func(n int) []Input {
		in := agentInput(healthDoc(minute(n), probes{"network": map[string]any{"resolvers": 1}}))
		if n >= 3 {
			// Taken at minute 2 while the collector was unreachable,
			// delivered at minute 3; a second one of the same trigger.
			in.Faults = []Fault{{Trigger: "collector-unreachable", CapturedAt: minute(2)}, {Trigger: "collector-unreachable", CapturedAt: minute(1)}}
		}
		return []Input{in}
	})
	equal(t, got, []string{
		"firing FaultReported{trigger=collector-unreachable} @3m",
		"resolved FaultReported{trigger=collector-unreachable} @18m",
	})
}

// runawayDoc is a health snapshot at minute n of a machine whose CPU use
// is machine percent of all its CPUs and whose busiest process is name
// (PID pid) at core percent of one core, started an hour before t0.
func runawayDoc(n, pid int, name string, core, machine float64) *protocol.Document {
	return healthDoc(minute(n), probes{
		"cpu": map[string]any{"usage_percent": machine},
		"processes": map[string]any{"total": 210, "top": map[string]any{"pid": pid, "name": name, "cpu_percent": core,
			"window_seconds": 60, "started": t0.Add(-time.Hour).Unix(), "cmdline": name + " --job nightly"}},
	})
}

// TestDefaultPackSingleCoreRunaway: reportgen loops on one core of eight
// from minute 0 to minute 29, 12.5% of the machine, which HighCPU never
// sees. SingleCoreRunaway is pending at once, saying so, fires after 10
// minutes naming the process, PID, command line and how long, and
// resolves 5 minutes (keep_firing_for) after the loop stopped, saying in
// the meantime why it still fires. The same loop on a machine of one core
// is HighCPU's; on a machine of unknown cores it raises nothing.
func TestDefaultPackSingleCoreRunaway(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	inputs := func(cpus int, machine float64) func(n int) []Input {
		return func(n int) []Input {
			d := runawayDoc(n, 4242, "reportgen", 99.4, machine)
			if n >= 30 {
				d = runawayDoc(n, 880, "firefox", 6, 2)
			}
			in := agentInput(d)
			in.CPUs = cpus
			return []Input{in}
		}
	}
	e := NewEngine(rs, Options{ResendInterval: time.Hour})
	const series = "SingleCoreRunaway{cmdline=reportgen --job nightly,pid=4242,process=reportgen,started=2026-11-24T21:00:00Z}"
	equal(t, timeline(e, 0, 3, inputs(8, 13)), nil)
	st := e.State()
	if len(st) != 1 || st[0].State != Pending || st[0].Annotations["summary"] != "reportgen (PID 4242) on ws-0042 has used 99% of one core for 3m: reportgen --job nightly" {
		t.Fatalf("pending at minute 3: %+v", st)
	}
	trs := e.Evaluate(minute(10), inputs(8, 13)(10))
	if len(trs) != 1 || trs[0].Kind != KindFiring || describeAlert(trs[0].Alert) != series {
		t.Fatalf("at minute 10: %+v", trs)
	}
	a := trs[0].Alert
	if want := "reportgen (PID 4242) on ws-0042 has used 99% of one core for 10m: reportgen --job nightly"; a.Annotations["summary"] != want {
		t.Errorf("summary %q, want %q", a.Annotations["summary"], want)
	}
	if d := a.Annotations["description"]; !strings.Contains(d, "(it started 2026-11-24T21:00:00Z)") || !strings.Contains(d, "HighCPU does not fire") {
		t.Errorf("description %q", d)
	}
	equal(t, timeline(e, 11, 32, inputs(8, 13)), nil)
	st = e.State()
	if len(st) != 1 || st[0].KeptFiring(minute(32)) != "condition cleared 2 min ago; clears in 3 min (keep_firing_for 5m)" {
		t.Fatalf("at minute 32: %+v", st)
	}
	equal(t, timeline(e, 33, 40, inputs(8, 13)), []string{"resolved " + series + " @35m"})

	// One core: the loop is the whole machine.
	e = NewEngine(rs, Options{ResendInterval: time.Hour})
	equal(t, only(timeline(e, 0, 15, inputs(1, 99)), "firing"), []string{"firing HighCPU{} @15m"})
	if st := e.State(); len(st) != 1 || st[0].Annotations["summary"] != "CPU use on ws-0042 has been above 90% for 15m (99%)" {
		t.Errorf("one core: %+v", st)
	}
	equal(t, only(timeline(e, 16, 40, inputs(1, 99)), "firing"), nil)
	// Cores unknown (an agent whose facts do not say): nothing.
	e = NewEngine(rs, Options{ResendInterval: time.Hour})
	equal(t, timeline(e, 0, 40, inputs(0, 13)), nil)
}

package findings

import (
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// started is when the looping report job started: two hours before now.
var started = now.Add(-2 * time.Hour).Unix()

// loop is a processes probe's health data whose busiest process is
// reportgen (PID 4242) at pct percent of one core over window seconds.
func loop(pct, window float64) map[string]any {
	return map[string]any{"total": 210, "top": map[string]any{"pid": 4242, "name": "reportgen", "cpu_percent": pct,
		"window_seconds": window, "started": started, "cmdline": "reportgen --job nightly"}}
}

// eightCores is the cpu probe of a machine of 8 cores, 13% busy.
var eightCores = map[string]any{"logical_cores": 8, "usage_percent": map[string]any{"total": 13}}

// healthRun is one health sample a minute for n minutes before now,
// newest first, each from pct(i) (i minutes before now).
func healthRun(n int, pct func(i int) map[string]any) []*protocol.Document {
	var out []*protocol.Document
	for i := 1; i <= n; i++ {
		d := snap(now.Add(-time.Duration(i)*time.Minute), probes{"processes": pct(i)})
		d.Kind = "health"
		out = append(out, d)
	}
	return out
}

// bundleDoc is a full snapshot at now of the 8-core machine with reportgen
// on top at 99.8% of one core, as a bundle analyzes it.
func bundleDoc() *protocol.Document {
	return snap(now, probes{"cpu": eightCores, "processes": map[string]any{"top_cpu": []any{
		map[string]any{"pid": 4242, "name": "reportgen", "user": "batch", "cpu_percent": 99.8, "cmdline": "reportgen --job nightly",
			"exe": "/opt/reports/bin/reportgen", "started": started},
		map[string]any{"pid": 880, "name": "firefox", "cpu_percent": 4},
	}}})
}

// TestRunaway: reportgen has held one core of eight in the full snapshot
// and in the fifteen health samples before it: process.runaway names it
// with its command line, start, and CPU use over the 16 minutes (the
// oldest sample's minute counts), and process.cpu-hog does not say the
// same again.
func TestRunaway(t *testing.T) {
	history := healthRun(15, func(int) map[string]any { return loop(99, 60) })
	fs := analyze(bundleDoc(), history, false)
	f := one(t, fs, "process.runaway")
	if len(only(fs, "process.cpu-hog")) != 0 {
		t.Errorf("a runaway is a cpu hog too: %v", ids(fs))
	}
	if f.Severity != Warning || f.Subject != "reportgen" ||
		f.Title != "The program reportgen (process 4242, reportgen --job nightly) has kept one of the 8 processor cores busy for 16 minutes" {
		t.Errorf("finding %+v", f)
	}
	want := map[string]any{"pid": int64(4242), "name": "reportgen", "user": "batch", "cpu_percent": 99.8, "cpu_percent_min": 99.0,
		"cpu_percent_avg": 99.05, "held_seconds": int64(960), "since": now.Add(-16 * time.Minute).Unix(), "samples": 16, "cpus": 8,
		"cmdline": "reportgen --job nightly", "exe": "/opt/reports/bin/reportgen", "started": started}
	for k, v := range want {
		if f.Evidence[k] != v {
			t.Errorf("evidence %s = %v (%T), want %v (%T)", k, f.Evidence[k], f.Evidence[k], v, v)
		}
	}
	if len(f.Evidence) != len(want) {
		t.Errorf("evidence %v", f.Evidence)
	}
	// Without the history, the snapshot alone says a hog.
	if fs := analyze(bundleDoc(), nil, false); len(only(fs, "process.runaway")) != 0 || len(only(fs, "process.cpu-hog")) != 1 {
		t.Errorf("no history: %v", ids(fs))
	}
}

// TestRunawayNeedsAnUnbrokenRun: a sample that shows the process under
// RunawayPercent, another process, the same PID started anew, no
// processes data, or a gap longer than RunawayMaxGap (and than the newer
// sample's window) ends the run; what is left is too short.
func TestRunawayNeedsAnUnbrokenRun(t *testing.T) {
	for name, at5 := range map[string]map[string]any{
		"under the threshold": loop(RunawayPercent-0.1, 60),
		"another process":     {"top": map[string]any{"pid": 5000, "name": "reportgen", "cpu_percent": 100, "started": started}},
		"PID reused":          {"top": map[string]any{"pid": 4242, "name": "reportgen", "cpu_percent": 100, "started": started - 1}},
		"no processes data":   {"top": "busy"},
	} {
		history := healthRun(15, func(i int) map[string]any {
			if i == 5 {
				return at5
			}
			return loop(99, 60)
		})
		if fs := analyze(bundleDoc(), history, false); len(only(fs, "process.runaway")) != 0 {
			t.Errorf("%s: %v", name, ids(fs))
		}
	}
	// At RunawayPercent exactly, the run holds.
	history := healthRun(15, func(int) map[string]any { return loop(RunawayPercent, 60) })
	one(t, analyze(bundleDoc(), history, false), "process.runaway")

	// Samples 6 minutes apart break the run; with a 6-minute window each,
	// they cover the time between them.
	spaced := func(window float64) []*protocol.Document {
		var out []*protocol.Document
		for i := 1; i <= 3; i++ {
			d := snap(now.Add(-time.Duration(6*i)*time.Minute), probes{"processes": loop(99, window)})
			out = append(out, d)
		}
		return out
	}
	doc := snap(now, probes{"cpu": eightCores, "processes": loop(99, 360)})
	if fs := analyze(doc, spaced(60), false); len(only(fs, "process.runaway")) != 0 {
		t.Errorf("6-minute gaps: %v", ids(fs))
	}
	if f := one(t, analyze(doc, spaced(360), false), "process.runaway"); f.Evidence["held_seconds"] != int64(24*60) {
		t.Errorf("6-minute windows: %v", f.Evidence)
	}
}

// TestRunawayFromOneSample: the first health sample after the agent
// started is over each process's life; one that held a core all along is
// a runaway from that sample alone, since it started and no earlier.
func TestRunawayFromOneSample(t *testing.T) {
	doc := snap(now, probes{"cpu": map[string]any{"logical_cores": 8, "usage_percent": 13}, "processes": loop(99.5, 5*3600)})
	doc.Kind = "health"
	f := one(t, analyze(doc, nil, false), "process.runaway")
	if f.Evidence["since"] != started || f.Evidence["held_seconds"] != int64(7200) || !strings.HasSuffix(f.Title, "busy for 2 hours") {
		t.Errorf("finding %+v", f)
	}
	// A window beyond any date is bounded, not an overflow.
	doc = snap(now, probes{"cpu": eightCores, "processes": map[string]any{"top": map[string]any{"pid": 1, "name": "x", "cpu_percent": 100, "window_seconds": 1e300}}})
	if f := one(t, analyze(doc, nil, false), "process.runaway"); f.Evidence["held_seconds"] != int64(maxWindow/time.Second) {
		t.Errorf("huge window: %v", f.Evidence)
	}
	// A one-minute sample is not a run.
	doc = snap(now, probes{"cpu": eightCores, "processes": loop(99.5, 60)})
	if fs := analyze(doc, nil, false); len(only(fs, "process.runaway")) != 0 {
		t.Errorf("one minute: %v", ids(fs))
	}
}

// TestRunawayNeedsCores: on a machine of one core the process is the
// whole machine, a hog; with the cores unknown, nothing. A process that
// holds three cores of eight is said to.
func TestRunawayNeedsCores(t *testing.T) {
	history := healthRun(15, func(int) map[string]any { return loop(99, 60) })
	doc := snap(now, probes{"cpu": map[string]any{"logical_cores": 1, "usage_percent": 99}, "processes": loop(99, 60)})
	fs := analyze(doc, history, false)
	if len(only(fs, "process.runaway")) != 0 || len(only(fs, "process.cpu-hog")) != 1 {
		t.Errorf("one core: %v", ids(fs))
	}
	doc = snap(now, probes{"processes": loop(99, 60)})
	doc.Facts = nil
	if fs := analyze(doc, history, false); len(fs) != 0 {
		t.Errorf("cores unknown: %v", ids(fs))
	}
	history = healthRun(15, func(int) map[string]any { return loop(296, 60) })
	doc = snap(now, probes{"cpu": eightCores, "processes": loop(301, 60)})
	if f := one(t, analyze(doc, history, false), "process.runaway"); !strings.Contains(f.Title, "has kept 3 of the 8 processor cores busy for 16 minutes") {
		t.Errorf("three cores: %q", f.Title)
	}
}

// TestRunawayHistoryOrder: history out of order, newer than the snapshot
// or repeated is taken in time order, and what is not older is skipped.
func TestRunawayHistoryOrder(t *testing.T) {
	history := healthRun(15, func(int) map[string]any { return loop(99, 60) })
	history[3], history[9] = history[9], history[3]
	future := snap(now.Add(time.Minute), probes{"processes": loop(10, 60)})
	same := snap(now, probes{"processes": loop(10, 60)})
	history = append([]*protocol.Document{future, same, nil}, history...)
	if f := one(t, analyze(bundleDoc(), history, false), "process.runaway"); f.Evidence["samples"] != 16 {
		t.Errorf("samples %v", f.Evidence["samples"])
	}
}

package findings

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

func TestMemoryThresholds(t *testing.T) {
	for _, tc := range []struct {
		data  map[string]any
		want  Severity
		title string
	}{
		{map[string]any{"used_ratio": 0.9499}, 0, ""},
		{map[string]any{"used_ratio": MemoryUsedWarning, "available_bytes": 1024}, Warning, "Memory is running short: 95% in use, 1.0 KiB left"},
		{map[string]any{"used_ratio": 0.9799, "available_bytes": 1023}, Warning, "Memory is running short: 98% in use, 1023 B left"},
		{map[string]any{"used_ratio": MemoryUsedCritical, "available_bytes": 1 << 20}, Critical, "Memory is running short: 98% in use, 1.0 MiB left"},
		// Stalls: the full variant's avg60, the health variant's avg10.
		{map[string]any{"pressure": map[string]any{"some": map[string]any{"avg60": 19.99}}}, 0, ""},
		{map[string]any{"pressure": map[string]any{"some": map[string]any{"avg60": MemoryStallWarning}}}, Warning, "Programs spend 20% of their time waiting for memory"},
		{map[string]any{"pressure_some_avg10": MemoryStallWarning}, Warning, "Programs spend 20% of their time waiting for memory"},
		{map[string]any{"pressure_some_avg10": 19.99}, 0, ""},
		{map[string]any{"pressure": map[string]any{}, "pressure_some_avg10": 30}, Warning, "Programs spend 30% of their time waiting for memory"},
		// Short memory says more than stalls.
		{map[string]any{"used_ratio": 0.99, "available_bytes": 0, "pressure_some_avg10": 50}, Critical, "Memory is running short: 99% in use, 0 B left"},
	} {
		fs := run(probes{"memory": tc.data})
		got := only(fs, "memory.pressure")
		switch {
		case tc.want == 0 && len(got) != 0:
			t.Errorf("%v: %v", tc.data, got)
		case tc.want != 0 && (len(got) != 1 || got[0].Severity != tc.want || got[0].Title != tc.title):
			t.Errorf("%v: %v, want %s %q", tc.data, got, tc.want, tc.title)
		}
	}
	f := one(t, run(probes{"memory": map[string]any{"used_ratio": 0.96, "available_bytes": 7, "pressure": map[string]any{"some": map[string]any{"avg60": 3}}}}), "memory.pressure")
	if want := map[string]any{"used_ratio": 0.96, "available_bytes": uint64(7), "stall_some_avg60": 3.0}; !maps.Equal(f.Evidence, want) {
		t.Errorf("evidence %v, want %v", f.Evidence, want)
	}
}

func TestSwapHeavy(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name string
		data map[string]any
		ram  uint64 // the facts' memory
		want bool
	}{
		{"quarter of the probe's memory", map[string]any{"total_bytes": 4 * gib, "swap": map[string]any{"total_bytes": 8 * gib, "used_bytes": gib}}, 0, true},
		{"just under a quarter", map[string]any{"total_bytes": 4 * gib, "swap": map[string]any{"used_bytes": gib - 1}}, 0, false},
		{"health variant, facts' memory", map[string]any{"swap_used_bytes": 2 * gib}, 8 * gib, true},
		{"health variant, under", map[string]any{"swap_used_bytes": 2*gib - 1}, 8 * gib, false},
		{"memory size unknown", map[string]any{"swap_used_bytes": 2 * gib}, 0, false},
		{"swap unknown", map[string]any{"total_bytes": 4 * gib}, 8 * gib, false},
	} {
		d := snap(now, probes{"memory": tc.data})
		d.Facts.MemoryBytes = tc.ram
		if got := len(only(analyze(d, nil, false), "memory.swap-heavy")) == 1; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	f := one(t, run(probes{"memory": map[string]any{"total_bytes": 4 * gib, "swap": map[string]any{"total_bytes": 8 * gib, "used_bytes": 3 * gib}}}), "memory.swap-heavy")
	want := map[string]any{"swap_used_bytes": uint64(3 * gib), "memory_bytes": uint64(4 * gib), "swap_total_bytes": uint64(8 * gib)}
	if !maps.Equal(f.Evidence, want) || f.Title != "3.0 GiB of memory is swapped out to disk, 75% of the memory's size" || f.Severity != Warning {
		t.Errorf("finding %+v", f)
	}
	d := snap(now, probes{"memory": map[string]any{"swap_used_bytes": 2 * gib}})
	d.Facts = nil
	if fs := analyze(d, nil, false); len(fs) != 0 {
		t.Errorf("no facts: %v", ids(fs))
	}
}

func TestBytesText(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {1<<20 - 1, "1024.0 KiB"},
		{1 << 20, "1.0 MiB"}, {1 << 30, "1.0 GiB"}, {1 << 40, "1.0 TiB"}, {1 << 50, "1.0 PiB"}, {1 << 60, "1.0 EiB"},
		{1<<64 - 1, "16.0 EiB"},
	} {
		if got := bytesText(tc.n); got != tc.want {
			t.Errorf("bytesText(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// counters is an interface with the given receive and transmit counters.
func counters(name string, rx, rxErr, rxDrop, tx, txErr, txDrop uint64) map[string]any {
	return map[string]any{"name": name, "counters": map[string]any{
		"rx_packets": rx, "rx_errors": rxErr, "rx_drops": rxDrop, "tx_packets": tx, "tx_errors": txErr, "tx_drops": txDrop}}
}

func TestInterfaceErrorThresholds(t *testing.T) {
	for _, tc := range []struct {
		ifc  map[string]any
		want string // the title's list of problems, "" for no finding
	}{
		// 1% of exactly InterfaceMinPackets in error: judged, and bad.
		{counters("eth0", 9900, 100, 0, 0, 0, 0), "1% of received packets had errors"},
		{counters("eth0", 9901, 99, 0, 0, 0, 0), ""},
		{counters("eth0", 9899, 100, 0, 0, 0, 0), ""}, // 9999 packets: too few to judge
		{counters("eth0", 9500, 0, 500, 0, 0, 0), "5% of received packets were dropped"},
		{counters("eth0", 9501, 0, 499, 0, 0, 0), ""},
		{counters("eth0", 9499, 0, 500, 0, 0, 0), ""},
		{counters("eth0", 0, 0, 0, 9900, 100, 0), "1% of sent packets had errors"},
		{counters("eth0", 0, 0, 0, 9000, 500, 500), "5% of sent packets had errors, 5% of sent packets were dropped"},
		{counters("eth0", 9400, 100, 500, 9900, 100, 0),
			"1% of received packets had errors, 5% of received packets were dropped, 1% of sent packets had errors"},
		{counters("", 0, 0, 0, 9900, 100, 0), ""},
		{map[string]any{"name": "eth0"}, ""},
	} {
		fs := only(run(probes{"network": map[string]any{"interfaces": []any{tc.ifc}}}), "network.interface-errors")
		switch {
		case tc.want == "" && len(fs) != 0:
			t.Errorf("%v: %v", tc.ifc, fs)
		case tc.want != "" && (len(fs) != 1 || fs[0].Title != "The network interface eth0 is losing packets: "+tc.want):
			t.Errorf("%v: %v, want %q", tc.ifc, fs, tc.want)
		}
	}
	f := one(t, run(probes{"network": map[string]any{"interfaces": []any{counters("eth0", 20000, 300, 0, 10, 0, 0)}}}), "network.interface-errors")
	// The direction with too little traffic is not in the evidence.
	want := map[string]any{"interface": "eth0", "rx_packets": uint64(20000), "rx_errors": uint64(300), "rx_drops": uint64(0)}
	if !maps.Equal(f.Evidence, want) || f.Subject != "eth0" || f.Severity != Warning {
		t.Errorf("finding %+v", f)
	}
}

func TestRouteAndResolvers(t *testing.T) {
	for _, tc := range []struct {
		name string
		os   string
		data map[string]any
		want []string
	}{
		{"full, no route", "linux", map[string]any{"default_routes": []any{}, "dns": map[string]any{"nameservers": []string{"10.0.0.1"}}}, []string{"network.no-default-route"}},
		{"full, a route", "linux", map[string]any{"default_routes": []any{map[string]any{"interface": "eth0"}}}, nil},
		{"full, routes not read", "linux", map[string]any{"default_routes": []any{}, "errors": []string{"reading routes: EPERM"}}, nil},
		{"full, routes unknown", "darwin", map[string]any{"default_routes": nil}, nil},
		{"full, no DNS", "linux", map[string]any{"dns": map[string]any{"nameservers": []string{}}}, []string{"dns.no-resolvers"}},
		{"full, upstream DNS", "linux", map[string]any{"dns": map[string]any{"upstream_nameservers": []string{"1.1.1.1"}}}, nil},
		{"health, no route", "linux", map[string]any{"default_route": false, "resolvers": 1}, []string{"network.no-default-route"}},
		{"health, route", "linux", map[string]any{"default_route": true}, nil},
		{"health, not linux", "darwin", map[string]any{"default_route": false}, nil},
		{"health, routes not read", "linux", map[string]any{"default_route": false, "errors": []string{"reading routes: x"}}, nil},
		{"health, no resolvers", "darwin", map[string]any{"resolvers": 0}, []string{"dns.no-resolvers"}},
		{"health, resolvers", "linux", map[string]any{"resolvers": 2}, nil},
		{"health, windows", "windows", map[string]any{"resolvers": 0}, nil},
		{"health, unknown system", "", map[string]any{"resolvers": 0}, nil},
		{"health, resolv.conf not read", "linux", map[string]any{"resolvers": 0, "errors": []string{"other", "reading resolver configuration: x"}}, nil},
	} {
		d := snap(now, probes{"network": tc.data})
		d.Facts.OS = tc.os
		if got := ids(analyze(d, nil, false)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	d := snap(now, probes{"network": map[string]any{"resolvers": 0}})
	d.Facts = nil
	if fs := analyze(d, nil, false); len(fs) != 0 {
		t.Errorf("no facts: %v", ids(fs))
	}
}

func TestCollectorReachability(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       map[string]any
		id      string
		subject string
		title   string
	}{
		{"slow", map[string]any{"addr": "sonde.example:7443", "ok": true, "handshake": map[string]any{"duration_ms": 1000}},
			"collector.high-latency", "sonde.example:7443", "The connection to the support server sonde.example:7443 is slow: 1000 ms to connect"},
		{"fast enough", map[string]any{"addr": "sonde.example:7443", "ok": true, "handshake": map[string]any{"duration_ms": 999.9}}, "", "", ""},
		{"slow live connection", map[string]any{"addr": "sonde.example:7443", "ok": true, "live": map[string]any{"transport": "tcp", "rtt_ms": 612.4, "up_s": 90}},
			"collector.high-latency", "sonde.example:7443", "The connection to the support server sonde.example:7443 is slow: 612 ms round trip"},
		{"live connection fast enough", map[string]any{"addr": "sonde.example:7443", "ok": true, "live": map[string]any{"transport": "quic", "rtt_ms": 499.9}}, "", "", ""},
		{"live, round trip not measured yet", map[string]any{"addr": "sonde.example:7443", "ok": true, "live": map[string]any{"transport": "tcp", "up_s": 0}}, "", "", ""},
		{"slow handshake beside a live connection", map[string]any{"addr": "sonde.example:7443", "ok": true, "live": map[string]any{"transport": "quic", "rtt_ms": 600},
			"handshake": map[string]any{"duration_ms": 1250}},
			"collector.high-latency", "sonde.example:7443", "The connection to the support server sonde.example:7443 is slow: 1250 ms to connect"},
		{"fresh handshake failing beside a live connection", map[string]any{"addr": "192.0.2.1:7443", "live": map[string]any{"transport": "quic", "rtt_ms": 20},
			"handshake": map[string]any{"error": "timeout"}},
			"collector.unreachable", "192.0.2.1:7443", "New connections to the support server 192.0.2.1:7443 fail; the agent's current one still works"},
		{"no name", map[string]any{"addr": "sonde.example:7443", "resolve": map[string]any{"error": "no such host"}, "handshake": map[string]any{"error": "x"}},
			"dns.failing", "sonde.example", "Name lookup failed for sonde.example, the support server"},
		{"no port", map[string]any{"addr": "sonde.example", "resolve": map[string]any{"error": "no such host"}},
			"dns.failing", "sonde.example", "Name lookup failed for sonde.example, the support server"},
		{"resolved", map[string]any{"addr": "sonde.example:7443", "resolve": map[string]any{}, "ok": true}, "", "", ""},
		{"unreachable", map[string]any{"addr": "192.0.2.1:7443", "handshake": map[string]any{"error": "timeout"}},
			"collector.unreachable", "192.0.2.1:7443", "The support server 192.0.2.1:7443 cannot be reached"},
		{"no handshake tried", map[string]any{"addr": "192.0.2.1:7443", "handshake": map[string]any{"error": noHandshake}}, "", "", ""},
		{"no error", map[string]any{"addr": "192.0.2.1:7443"}, "", "", ""},
	} {
		fs := run(probes{"network": map[string]any{"collector": tc.c}})
		switch {
		case tc.id == "" && len(fs) != 0:
			t.Errorf("%s: %v", tc.name, ids(fs))
		case tc.id != "" && (len(fs) != 1 || fs[0].ID != tc.id || fs[0].Subject != tc.subject || fs[0].Title != tc.title):
			t.Errorf("%s: %+v", tc.name, fs)
		}
	}
}

// hog runs the processes analyzer over a top process at pct percent of one
// CPU and a cpu probe; cores 0 leaves the core count to the facts (4).
func hog(pct float64, cpu map[string]any) []Finding {
	ps := probes{"processes": map[string]any{"top_cpu": []map[string]any{
		{"pid": 7, "name": "other", "cpu_percent": 1},
		{"pid": 42, "name": "miner", "user": "bob", "cpu_percent": pct},
	}}}
	if cpu != nil {
		ps["cpu"] = cpu
	}
	return only(run(ps), "process.cpu-hog")
}

func TestCPUHog(t *testing.T) {
	for _, tc := range []struct {
		name string
		pct  float64
		cpu  map[string]any
		want bool
	}{
		// Half of what the machine used, and at least CPUHogPercent.
		{"half the machine's use", 95, map[string]any{"logical_cores": 2, "usage_percent": map[string]any{"total": 95}}, true},
		{"under half", 95, map[string]any{"logical_cores": 2, "usage_percent": map[string]any{"total": 95.1}}, false},
		{"health variant's usage", 95, map[string]any{"logical_cores": 4, "usage_percent": 25}, true},
		{"health variant, busier", 95, map[string]any{"logical_cores": 4, "usage_percent": 50}, false},
		{"at CPUHogPercent", CPUHogPercent, map[string]any{"logical_cores": 1, "usage_percent": 90}, true},
		{"under CPUHogPercent", 89.9, map[string]any{"logical_cores": 1, "usage_percent": 89.9}, false},
		// The machine's use unknown: its capacity counts.
		{"usage unknown, 2 cores", 100, map[string]any{"logical_cores": 2}, true},
		{"usage unknown, 8 cores", 100, map[string]any{"logical_cores": 8}, false},
		{"usage unreadable", 100, map[string]any{"logical_cores": 8, "usage_percent": "busy"}, false},
		// Cores from the facts (4) when the cpu probe has none.
		{"facts' cores", 200, map[string]any{"usage_percent": 10}, true},
		{"facts' cores, no cpu probe", 200, nil, true},
		{"facts' cores, no cpu probe, under", 199, nil, false},
	} {
		if got := len(hog(tc.pct, tc.cpu)) == 1; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	f := hog(95, map[string]any{"logical_cores": 4, "usage_percent": 25})[0]
	want := map[string]any{"pid": int64(42), "name": "miner", "user": "bob", "cpu_percent": 95.0, "cpus": 4, "machine_usage_percent": 25.0}
	if !maps.Equal(f.Evidence, want) || f.Subject != "miner" || f.Title != "The program miner (process 42) is using most of the processor's time" {
		t.Errorf("finding %+v", f)
	}
	// No core count anywhere: no verdict.
	d := snap(now, probes{"processes": map[string]any{"top_cpu": []map[string]any{{"pid": 1, "name": "x", "cpu_percent": 400}}}})
	d.Facts = nil
	if fs := analyze(d, nil, false); len(fs) != 0 {
		t.Errorf("no cores: %v", ids(fs))
	}
	// Of two processes equally busy, the first listed is named.
	fs := only(run(probes{"processes": map[string]any{"top_cpu": []map[string]any{
		{"pid": 1, "name": "first", "cpu_percent": 300}, {"pid": 2, "name": "second", "cpu_percent": 300},
	}}}), "process.cpu-hog")
	if len(fs) != 1 || fs[0].Subject != "first" {
		t.Errorf("tie: %+v", fs)
	}
}

// units is the services probe's health variant: the failed units' names.
func units(names ...string) probes {
	return probes{"services": map[string]any{"manager": "systemd", "failed_units": names}}
}

func TestServiceRestarts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		services map[string]any
		want     string
	}{
		{"restarted CrashLoopRestarts times", map[string]any{"manager": "systemd", "failed": []map[string]any{
			{"name": "a.service", "sub_state": "failed", "exit_code": 1, "restarts": CrashLoopRestarts}}},
			"service.crash-looping: The service a.service keeps crashing: restarted 3 times, then gave up"},
		{"restarted less", map[string]any{"manager": "systemd", "failed": []map[string]any{
			{"name": "a.service", "restarts": CrashLoopRestarts - 1}}},
			"service.failed: The service a.service has failed"},
		// The health variant's names, with the count from the services
		// list.
		{"count from the list", map[string]any{"manager": "systemd", "failed_units": []string{"a.service"},
			"services": []map[string]any{{"name": "b.service"}, {"name": "a.service", "restarts": 5}}},
			"service.crash-looping: The service a.service keeps crashing: restarted 5 times, then gave up"},
		{"list without a count", map[string]any{"manager": "systemd", "failed_units": []string{"a.service"},
			"services": []map[string]any{{"name": "a.service"}}},
			"service.failed: The service a.service has failed"},
		{"windows", map[string]any{"manager": "scm", "failed_units": []string{"Spooler"}},
			"service.failed: The service Spooler is stopped although it should start automatically"},
		{"systemd unit", map[string]any{"manager": "systemd", "failed_units": []string{"home.mount"}},
			"service.failed: The system unit home.mount has failed"},
		{"launchd", map[string]any{"manager": "launchd", "failed_units": []string{"com.x"}},
			"service.failed: The service com.x has failed"},
	} {
		fs := run(probes{"services": tc.services})
		if len(fs) != 1 || fs[0].ID+": "+fs[0].Title != tc.want {
			t.Errorf("%s: %+v, want %q", tc.name, fs, tc.want)
		}
	}
	f := one(t, run(probes{"services": map[string]any{"manager": "systemd", "failed": []map[string]any{
		{"name": "a.service", "sub_state": "failed", "exit_code": 2, "restarts": 1}, {"name": ""}}}}), "service.failed")
	want := map[string]any{"unit": "a.service", "manager": "systemd", "sub_state": "failed", "exit_code": uint32(2), "restarts": uint32(1)}
	if !maps.Equal(f.Evidence, want) {
		t.Errorf("evidence %v, want %v", f.Evidence, want)
	}
	if fs := run(probes{"services": map[string]any{"failed": []any{1, 2}}}); len(fs) != 0 {
		t.Errorf("undecodable failed list: %v", ids(fs))
	}
}

// onsetsOf analyzes a.service failed now over a history given oldest
// first, true where it was failed, and returns the finding's ID and
// evidence of failures seen.
func onsetsOf(t *testing.T, oldestFirst ...bool) (string, any) {
	t.Helper()
	var history []*protocol.Document
	for i, failed := range oldestFirst {
		at := now.Add(-time.Duration(len(oldestFirst)-i) * time.Hour)
		if failed {
			history = append(history, snap(at, units("a.service")))
		} else {
			history = append(history, snap(at, units()))
		}
	}
	slices.Reverse(history) // newest first
	f := one(t, analyze(snap(now, units("a.service")), history, false), "")
	return f.ID, f.Evidence["failures_seen"]
}

func TestServiceFailureOnsets(t *testing.T) {
	for _, tc := range []struct {
		history []bool
		id      string
		seen    any
	}{
		{nil, "service.failed", nil},
		{[]bool{true, true, true}, "service.failed", nil}, // one long failure
		{[]bool{false, true}, "service.failed", nil},
		{[]bool{true, false}, "service.failed", 2},
		{[]bool{true, false, true, false}, "service.crash-looping", 3},
		{[]bool{false, true, false, true}, "service.failed", 2},
		{[]bool{false, true, false, true, false}, "service.crash-looping", 3},
		{[]bool{false, true, false, true, false, true, true}, "service.crash-looping", 3},
	} {
		id, seen := onsetsOf(t, tc.history...)
		if id != tc.id || seen != tc.seen {
			t.Errorf("history %v: %s, failures_seen %v; want %s, %v", tc.history, id, seen, tc.id, tc.seen)
		}
	}
	// History without a readable services probe is skipped.
	broken := snap(now.Add(-2*time.Hour), probes{"services": "garbage"})
	f := one(t, analyze(snap(now, units("a.service")), []*protocol.Document{snap(now.Add(-time.Hour), units()), broken, snap(now.Add(-3*time.Hour), units("a.service"))}, false), "")
	if f.Evidence["failures_seen"] != 2 {
		t.Errorf("across a broken snapshot: %+v", f)
	}
}

// TestHistoryBound: only the newest maxHistory older snapshots count.
func TestHistoryBound(t *testing.T) {
	var history []*protocol.Document // newest first
	for i := range maxHistory + 10 {
		at := now.Add(-time.Duration(i+1) * time.Minute)
		if i < maxHistory || i%2 == 0 {
			history = append(history, snap(at, units("a.service")))
		} else {
			history = append(history, snap(at, units()))
		}
	}
	history = append(history[:3], append([]*protocol.Document{nil}, history[3:]...)...)
	// Beyond the bound it failed anew five times; within it, once.
	if f := one(t, analyze(snap(now, units("a.service")), history, false), ""); f.ID != "service.failed" {
		t.Errorf("history beyond the bound counted: %+v", f)
	}
	if f := one(t, analyze(snap(now, units("a.service")), history[:maxHistory+1], false), ""); f.ID != "service.failed" {
		t.Errorf("%+v", f)
	}
	if got := newInput(snap(now, nil), history); len(got.history) != maxHistory || slices.Contains(got.history, nil) {
		t.Errorf("%d snapshots kept", len(got.history))
	}
}

func TestRebootPending(t *testing.T) {
	var pkgs []string
	for i := range maxRebootPackages + 2 {
		pkgs = append(pkgs, "pkg"+strings.Repeat("x", i))
	}
	for _, tc := range []struct {
		data map[string]any
		want map[string]any
	}{
		{map[string]any{"reboot_required": false, "reboot_required_by": pkgs}, nil},
		{map[string]any{"reboot_required": true, "uptime_seconds": 60}, map[string]any{"uptime_seconds": int64(60)}},
		{map[string]any{"reboot_required": true, "reboot_required_by": []string{}}, map[string]any{"uptime_seconds": int64(0)}},
		{map[string]any{"reboot_required": true, "reboot_required_by": pkgs[:2]}, map[string]any{"uptime_seconds": int64(0), "packages": pkgs[:2]}},
		{map[string]any{"reboot_required": true, "reboot_required_by": pkgs}, map[string]any{"uptime_seconds": int64(0), "packages": pkgs[:maxRebootPackages]}},
	} {
		fs := run(probes{"system": tc.data})
		if tc.want == nil {
			if len(fs) != 0 {
				t.Errorf("%v: %v", tc.data, ids(fs))
			}
			continue
		}
		f := one(t, fs, "system.reboot-pending")
		got, _ := f.Evidence["packages"].([]string)
		want, _ := tc.want["packages"].([]string)
		_, hasPackages := f.Evidence["packages"]
		if f.Evidence["uptime_seconds"] != tc.want["uptime_seconds"] || !slices.Equal(got, want) || hasPackages != (want != nil) || f.Severity != Info {
			t.Errorf("%v: evidence %v, want %v", tc.data, f.Evidence, tc.want)
		}
	}
}

// clock runs the time analyzer over the collector's measurement and the
// sync state ("" unknown, "yes", "no").
func clock(offsetMS, rttMS float64, sync string) []Finding {
	data := map[string]any{"collector": map[string]any{"known": true, "offset_ms": offsetMS, "rtt_ms": rttMS}}
	if sync != "" {
		data["sync"] = map[string]any{"known": true, "synced": sync == "yes"}
	}
	return run(probes{"time": data})
}

func TestClockSkewThresholds(t *testing.T) {
	ms := float64(time.Millisecond)
	warn, crit := float64(ClockSkewWarning)/ms, float64(ClockSkewCritical)/ms
	for _, tc := range []struct {
		offset, rtt float64
		want        Severity
	}{
		{warn - 1, 0, 0},
		{warn, 0, Warning},
		{-warn, 0, Warning},
		{crit - 1, 0, Warning},
		{crit, 0, Critical},
		{-crit, 0, Critical},
		// Less half the round trip: 3000 ms over 1000 ms is 2500 ms; 2400
		// over 1000 is 1900.
		{3000, 1000, Warning},
		{3000, -1000, Warning},
		{2400, 1000, 0},
		{warn + 500, 1000, Warning},
		{warn + 499, 1000, 0},
		{100, 1e6, 0},
	} {
		if got := severityOf(t, clock(tc.offset, tc.rtt, ""), "time.clock-skew"); got != tc.want {
			t.Errorf("offset %v, rtt %v: %v, want %v", tc.offset, tc.rtt, got, tc.want)
		}
	}
	if fs := run(probes{"time": map[string]any{"collector": map[string]any{"known": false, "offset_ms": 1e9}}}); len(fs) != 0 {
		t.Errorf("unknown offset: %v", ids(fs))
	}
}

func TestClockSkewTitle(t *testing.T) {
	for _, tc := range []struct {
		offset float64
		want   string
	}{
		{2000, "2 seconds behind"},
		{-2000, "2 seconds ahead of"},
		{119_999, "120 seconds behind"},
		{120_000, "2 minutes behind"},
		{-3 * 3600_000, "3 hours ahead of"},
		{3 * 86400_000, "3 days behind"},
		{1e15, "11574 days behind"},
	} {
		f := one(t, clock(tc.offset, 0, ""), "time.clock-skew")
		if want := "This machine's clock is " + tc.want + " the support server's"; f.Title != want {
			t.Errorf("offset %v: %q, want %q", tc.offset, f.Title, want)
		}
		if f.Evidence["offset_ms"] != tc.offset || f.Evidence["rtt_ms"] != 0.0 {
			t.Errorf("evidence %v", f.Evidence)
		}
	}
}

// TestNotSynced: a clock not kept in sync is for information, whatever
// else the snapshot holds (issue 20: the live agent, an imported copy and
// a local check must rate it alike); a clock far off is time.clock-skew.
func TestNotSynced(t *testing.T) {
	warn := float64(ClockSkewWarning / time.Millisecond)
	for _, tc := range []struct {
		name string
		fs   []Finding
		want Severity
	}{
		{"synced", clock(0, 0, "yes"), 0},
		{"offset unknown", run(probes{"time": map[string]any{"sync": map[string]any{"known": true}}}), Info},
		{"right", clock(warn-1, 0, "no"), Info},
		{"at the skew threshold", clock(warn, 0, "no"), Info},
		{"sync unknown", run(probes{"time": map[string]any{"sync": map[string]any{"known": false}}}), 0},
		{"health variant", run(probes{"time": map[string]any{"synced": false, "sync_known": true}}), Info},
		{"health variant, unknown", run(probes{"time": map[string]any{"synced": false, "sync_known": false}}), 0},
		{"health variant, half", run(probes{"time": map[string]any{"synced": false}}), 0},
	} {
		if got := severityOf(t, tc.fs, "time.not-synced"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// At the skew threshold, the skew is the warning.
	if got := severityOf(t, clock(warn, 0, "no"), "time.clock-skew"); got != Warning {
		t.Errorf("clock skew at the threshold: %v, want warning", got)
	}
}

func TestSnapshotsDropped(t *testing.T) {
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{}, ""},
		{map[string]any{"delivery": map[string]any{"spool_bytes": 10}}, ""},
		{map[string]any{"delivery": map[string]any{"lost": 2, "spool_dropped": 3, "spool_bytes": 10, "spool_cap": 20}},
			"The Sonde agent dropped 5 snapshots it could not deliver"},
	} {
		fs := run(probes{"agent": tc.data})
		switch {
		case tc.want == "" && len(fs) != 0:
			t.Errorf("%v: %v", tc.data, ids(fs))
		case tc.want != "" && (len(fs) != 1 || fs[0].Title != tc.want || fs[0].Severity != Info):
			t.Errorf("%v: %+v", tc.data, fs)
		}
	}
}

func TestBatteryWorn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bat   map[string]any
		want  Severity
		title string
	}{
		{"healthy", map[string]any{"name": "BAT0", "health_percent": 71.0}, 0, ""},
		{"at the warning", map[string]any{"name": "BAT0", "health_percent": 70.0, "cycle_count": 900}, Warning, "The battery holds 70% of its original capacity"},
		{"at the critical", map[string]any{"name": "BAT0", "health_percent": 50.0}, Critical, "The battery holds 50% of its original capacity"},
		{"just above critical", map[string]any{"name": "BAT0", "health_percent": 50.5}, Warning, "The battery holds 50% of its original capacity"},
		{"macOS replace soon", map[string]any{"name": "InternalBattery-0", "condition": "Replace Soon"}, Warning, "The battery is wearing out: Replace Soon"},
		{"macOS service battery", map[string]any{"name": "InternalBattery-0", "condition": "Service Battery", "health_percent": 90.0}, Critical, "The battery needs replacing: Service Battery"},
		{"macOS normal", map[string]any{"name": "InternalBattery-0", "condition": "Normal"}, 0, ""},
		{"worn, and macOS says replace soon", map[string]any{"name": "InternalBattery-0", "condition": "Replace Soon", "health_percent": 65.0}, Warning, "The battery holds 65% of its original capacity"},
		{"unknown health", map[string]any{"name": "BAT0"}, 0, ""},
	} {
		fs := only(run(probes{"hardware": map[string]any{"power": map[string]any{"batteries": []any{tc.bat}}}}), "hardware.battery-worn")
		switch {
		case tc.want == 0 && len(fs) != 0:
			t.Errorf("%s: %v", tc.name, fs)
		case tc.want != 0 && (len(fs) != 1 || fs[0].Severity != tc.want || fs[0].Title != tc.title || fs[0].Subject != tc.bat["name"]):
			t.Errorf("%s: %v, want %s %q", tc.name, fs, tc.want, tc.title)
		}
	}
	// storage-health's system section (macOS, Windows) counts the same
	// battery once.
	bat := map[string]any{"name": "InternalBattery-0", "condition": "Replace Now"}
	fs := only(run(probes{"hardware": map[string]any{"power": map[string]any{"batteries": []any{bat}}},
		"storage-health": map[string]any{"system": map[string]any{"power": map[string]any{"batteries": []any{bat}}}}}), "hardware.battery-worn")
	if len(fs) != 1 || fs[0].Severity != Critical {
		t.Errorf("one battery in both probes: %v", fs)
	}
}

func TestStorageFailing(t *testing.T) {
	disk := func(kv ...any) map[string]any {
		m := map[string]any{"name": "sdb"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		disk  map[string]any
		want  Severity
		title string
	}{
		{"healthy", disk("smart_passed", true, "ata", map[string]any{"reallocated_sectors": 0}), 0, ""},
		{"smart fails", disk("smart_passed", false), Critical, "Disk sdb may be failing: its own health check fails"},
		{"reallocated", disk("smart_passed", true, "ata", map[string]any{"reallocated_sectors": 8, "pending_sectors": 2}), Warning, "Disk sdb may be failing: 8 reallocated sectors; 2 pending sectors"},
		{"attribute failed", disk("ata", map[string]any{"attributes": []any{map[string]any{"name": "Reallocated_Sector_Ct", "when_failed": "now"}}}), Critical, "Disk sdb may be failing: attribute Reallocated_Sector_Ct is past its threshold"},
		{"nvme warning", disk("nvme", map[string]any{"warnings": []any{"reliability_degraded"}, "media_errors": 14}), Critical, "Disk sdb may be failing: it reports reliability degraded; 14 media errors"},
		{"nvme media errors", disk("nvme", map[string]any{"media_errors": 1}), Warning, "Disk sdb may be failing: 1 media errors"},
		{"sas defects", disk("scsi", map[string]any{"grown_defects": 12}), Warning, "Disk sdb may be failing: 12 grown defects"},
		{"sas without defects", disk("scsi", map[string]any{"grown_defects": 0}), 0, ""},
		{"nvme warning, no media errors", disk("nvme", map[string]any{"warnings": []any{"spare_below_threshold"}, "media_errors": 0}), Critical, "Disk sdb may be failing: it reports spare below threshold"},
		{"windows unhealthy", disk("status", "Unhealthy"), Critical, "Disk sdb may be failing: Windows reports it unhealthy"},
	} {
		fs := only(run(probes{"storage-health": map[string]any{"disks": []any{tc.disk}}}), "storage.failing")
		switch {
		case tc.want == 0 && len(fs) != 0:
			t.Errorf("%s: %v", tc.name, fs)
		case tc.want != 0 && (len(fs) != 1 || fs[0].Severity != tc.want || fs[0].Title != tc.title):
			t.Errorf("%s: %v, want %s %q", tc.name, fs, tc.want, tc.title)
		}
	}
	fs := only(run(probes{"storage-health": map[string]any{"failure_predictions": []any{
		map[string]any{"instance": `SCSI\Disk&Ven_WDC\4&1`, "predict_failure": true}, map[string]any{"instance": "ok", "predict_failure": false}}}}), "storage.failing")
	if len(fs) != 1 || fs[0].Severity != Critical {
		t.Errorf("Windows failure prediction: %v", fs)
	}
	for _, tc := range []struct {
		used float64
		want Severity
	}{{89.9, 0}, {90, Warning}, {99, Warning}, {100, Critical}, {140, Critical}} {
		fs := only(run(probes{"storage-health": map[string]any{"disks": []any{disk("percentage_used", tc.used)}}}), "storage.worn-out")
		if (tc.want == 0) != (len(fs) == 0) || len(fs) == 1 && fs[0].Severity != tc.want {
			t.Errorf("percentage used %v: %v, want %v", tc.used, fs, tc.want)
		}
	}
}

func TestRebootPendingForDays(t *testing.T) {
	days := func(d float64) int64 { return int64(d * 24 * 3600) }
	for _, tc := range []struct {
		name  string
		reb   map[string]any
		want  Severity
		title string
	}{
		{"not required", map[string]any{"required": false, "pending_seconds": days(9)}, 0, ""},
		{"a day", map[string]any{"required": true, "pending_seconds": days(1)}, Info, "A restart is needed to finish installing updates"},
		{"just under three days", map[string]any{"required": true, "pending_seconds": days(3) - 1}, Info, "A restart is needed to finish installing updates"},
		{"three days", map[string]any{"required": true, "pending_seconds": days(3)}, Warning, "A restart has been needed for 3 days to finish installing updates"},
		{"ten days, packages", map[string]any{"required": true, "pending_seconds": days(10.5), "packages": []string{"linux-image-6.1.0-28-amd64"}}, Warning, "A restart has been needed for 10 days to finish installing updates"},
	} {
		fs := only(run(probes{"software": map[string]any{"reboot": tc.reb}}), "system.reboot-pending")
		switch {
		case tc.want == 0 && len(fs) != 0:
			t.Errorf("%s: %v", tc.name, fs)
		case tc.want != 0 && (len(fs) != 1 || fs[0].Severity != tc.want || fs[0].Title != tc.title):
			t.Errorf("%s: %v, want %s %q", tc.name, fs, tc.want, tc.title)
		}
	}
	if f := one(t, run(probes{"software": map[string]any{"reboot": map[string]any{"required": true}}}), "system.reboot-pending"); f.Evidence["pending_seconds"] != nil {
		t.Errorf("no time known, yet evidence %v", f.Evidence)
	}
	f := one(t, run(probes{"software": map[string]any{"reboot": map[string]any{"required": true, "pending_seconds": days(4), "packages": []string{"libc6"}}}}), "system.reboot-pending")
	if f.Evidence["packages"] == nil || f.Evidence["pending_seconds"] != days(4) {
		t.Errorf("evidence %v", f.Evidence)
	}
}

func TestLogsFindings(t *testing.T) {
	oom := func(names ...string) []any {
		var out []any
		for _, n := range names {
			out = append(out, map[string]any{"process": n})
		}
		return out
	}
	kernel := func(k map[string]any) probes { return probes{"logs": map[string]any{"kernel": k}} }
	f := one(t, run(kernel(map[string]any{"oom_kills": oom("code", "java"), "counts": map[string]any{"oom_kills": 2}})), "logs.oom-kills")
	if f.Severity != Warning || f.Title != "The computer ran out of memory and killed 2 programs in the last day (code, java)" {
		t.Errorf("two OOM kills: %v", f)
	}
	// The count may exceed the events listed (the probe bounds them).
	f = one(t, run(kernel(map[string]any{"oom_kills": oom("code", "code"), "counts": map[string]any{"oom_kills": OOMKillsCritical}})), "logs.oom-kills")
	if f.Severity != Critical || f.Title != "The computer ran out of memory and killed 3 programs in the last day (code)" {
		t.Errorf("three OOM kills: %v", f)
	}
	f = one(t, run(kernel(map[string]any{"oom_kills": oom("a", "b", "c", "d", "e", "f", "g")})), "logs.oom-kills")
	if v := f.Evidence["victims"].([]string); len(v) != maxNamed || v[maxNamed-1] != "e" || f.Severity != Critical {
		t.Errorf("seven OOM kills: %v", f)
	}
	f = one(t, run(kernel(map[string]any{"io_errors": []any{map[string]any{"device": "sdb"}, map[string]any{"device": "sdb1"}, map[string]any{"device": "sdb"}}, "counts": map[string]any{"io_errors": 3}})), "logs.disk-io-errors")
	if f.Severity != Critical || f.Subject != "sdb, sdb1" || f.Title != "The kernel logged 3 I/O errors reading or writing a disk in the last day (sdb, sdb1)" {
		t.Errorf("I/O errors: %v", f)
	}
	f = one(t, run(kernel(map[string]any{"gpu_resets": []any{map[string]any{"driver": "i915"}}, "counts": map[string]any{"gpu_resets": 1}})), "logs.gpu-resets")
	if f.Severity != Warning || f.Title != "The graphics chip hung or was reset 1 time in the last day (i915)" {
		t.Errorf("GPU reset: %v", f)
	}
	if fs := run(kernel(map[string]any{"counts": map[string]any{}})); len(only(fs, "logs.oom-kills"))+len(only(fs, "logs.disk-io-errors"))+len(only(fs, "logs.gpu-resets")) != 0 {
		t.Errorf("a quiet kernel log: %v", fs)
	}

	crash := func(program, kind string) map[string]any { return map[string]any{"program": program, "kind": kind} }
	fs := run(probes{"logs": map[string]any{"crashes": []any{
		crash("zoom", "crash"), crash("zoom", "crash"), crash("zoom", "hang"),
		crash("python3", "crash"), crash("python3", "crash"),
		crash("kernel", "kernel"), crash("", "crash"), crash("apt", "package"),
	}}})
	loop, once := only(fs, "logs.crash-loop"), only(fs, "logs.crashed")
	if len(loop) != 1 || loop[0].Subject != "zoom" || loop[0].Severity != Warning || loop[0].Title != "zoom keeps crashing: 3 times in the last day" {
		t.Errorf("crash loop: %v", loop)
	}
	if len(once) != 1 || once[0].Subject != "python3" || once[0].Severity != Info || once[0].Title != "python3 crashed 2 times in the last day" {
		t.Errorf("crashed: %v", once)
	}
}

func TestSecurityFindings(t *testing.T) {
	fs := run(probes{"security": map[string]any{
		"firewall":        map[string]any{"active": false, "why": "no input filter"},
		"disk_encryption": map[string]any{"volume": "/", "encrypted": false, "device": "/dev/vda1"},
		"secure_boot":     map[string]any{"boot": "uefi", "enabled": false},
		"auto_updates":    map[string]any{"enabled": false, "why": "unattended-upgrades is not installed"},
	}})
	if got := ids(fs); !slices.Equal(got, []string{"security.disk-unencrypted", "security.firewall-off", "security.auto-updates-off", "security.secure-boot-off"}) {
		t.Errorf("all off: %v", got)
	}
	// Unknown verdicts (null), a legacy BIOS and everything on raise nothing.
	fs = run(probes{"security": map[string]any{
		"firewall":        map[string]any{"active": nil},
		"disk_encryption": map[string]any{"volume": "/", "encrypted": true},
		"secure_boot":     map[string]any{"boot": "legacy-bios", "enabled": false},
		"auto_updates":    map[string]any{},
	}})
	if len(fs) != 0 {
		t.Errorf("nothing to say: %v", fs)
	}
}

func TestWifiWeak(t *testing.T) {
	for _, tc := range []struct {
		dbm       float64
		connected bool
		want      Severity
	}{{-74, true, 0}, {-75, true, Warning}, {-84, true, Warning}, {-85, true, Critical}, {-90, false, 0}} {
		fs := only(run(probes{"wifi": map[string]any{"interfaces": []any{map[string]any{"name": "wlan0", "ssid": "CorpNet", "connected": tc.connected, "signal_dbm": tc.dbm}}}}), "wifi.weak-signal")
		switch {
		case tc.want == 0 && len(fs) != 0:
			t.Errorf("%v dBm: %v", tc.dbm, fs)
		case tc.want != 0 && (len(fs) != 1 || fs[0].Severity != tc.want || fs[0].Title != fmt.Sprintf("The Wi-Fi signal is weak: %.0f dBm on CorpNet", tc.dbm)):
			t.Errorf("%v dBm: %v, want %s", tc.dbm, fs, tc.want)
		case tc.want != 0 && fs[0].Evidence["band"] != nil:
			t.Errorf("%v dBm: band in the evidence though the probe gave none: %v", tc.dbm, fs[0].Evidence)
		}
	}
	f := one(t, run(probes{"wifi": map[string]any{"interfaces": []any{map[string]any{"name": "wlan0", "connected": true, "signal_dbm": -80, "band": "2.4GHz"}}}}), "wifi.weak-signal")
	if f.Evidence["band"] != "2.4GHz" || f.Title != "The Wi-Fi signal is weak: -80 dBm on wlan0" {
		t.Errorf("without an SSID, with a band: %v", f)
	}
}

func TestProxyFindings(t *testing.T) {
	set := func(source, name, kind, host string, port int, problem string) map[string]any {
		return map[string]any{"source": source, "name": name, "kind": kind, "host": host, "port": port, "problem": problem, "enabled": true}
	}
	fs := run(probes{"proxy": map[string]any{"settings": []any{
		set("/etc/environment", "https_proxy", "https", "proxy.corp", 3128, ""),
		set("/etc/environment", "HTTPS_PROXY", "https", "proxy.corp", 3218, ""),
		set("/etc/environment", "http_proxy", "http", "proxy.corp", 3128, ""),
		set("/etc/environment", "no_proxy", "bypass", "", 0, ""),
		set("/etc/profile.d/p.sh", "ftp_proxy", "ftp", "proxy.corp", 0, "no port"),
		map[string]any{"source": "HKU", "name": "ProxyServer", "kind": "http", "host": "old.proxy", "port": 80, "enabled": false},
	}}})
	mis, conf := only(fs, "proxy.misconfigured"), only(fs, "proxy.conflicting")
	if len(mis) != 1 || mis[0].Title != "Proxy setting /etc/profile.d/p.sh: ftp_proxy no port" {
		t.Errorf("misconfigured: %v", mis)
	}
	if len(conf) != 1 || conf[0].Title != "Settings disagree on the https proxy: proxy.corp:3128 or proxy.corp:3218" {
		t.Errorf("conflicting: %v", conf)
	}
}

// TestCPUHogNamesTheCommandLine: a runaway shell script is named by its
// command line, not "bash", with its executable and start time as
// evidence; a long command line is cut in the title, whole in the evidence.
func TestCPUHogNamesTheCommandLine(t *testing.T) {
	hog := func(cmdline string) probes {
		return probes{
			"cpu": map[string]any{"logical_cores": 8, "usage_percent": map[string]any{"total": 12.6}},
			"processes": map[string]any{"top_cpu": []any{map[string]any{"pid": 4242, "name": "bash", "cpu_percent": 99.8,
				"cmdline": cmdline, "exe": "/usr/bin/bash", "started": 1796587184}}},
		}
	}
	f := one(t, run(hog("bash /opt/reports/reportgen --job nightly")), "process.cpu-hog")
	if f.Title != "The program bash (process 4242, bash /opt/reports/reportgen --job nightly) is using most of the processor's time" ||
		f.Evidence["cmdline"] != "bash /opt/reports/reportgen --job nightly" || f.Evidence["exe"] != "/usr/bin/bash" || f.Evidence["started"] != int64(1796587184) {
		t.Errorf("single-core runaway on 8 cores: %v", f)
	}
	long := "bash -c " + strings.Repeat("é", 60)
	f = one(t, run(hog(long)), "process.cpu-hog")
	if !strings.Contains(f.Title, "bash -c "+strings.Repeat("é", 36)+"...)") || f.Evidence["cmdline"] != long {
		t.Errorf("long command line: %q, evidence %q", f.Title, f.Evidence["cmdline"])
	}
}

// TestTmpfsFull: a memory-backed file system filling up is judged like a
// disk, and said to be one, from the full and the health variants alike.
func TestTmpfsFull(t *testing.T) {
	for name, mount := range map[string]map[string]any{
		"full":   {"device": "tmpfs", "mountpoint": "/dev/shm", "fstype": "tmpfs", "used_ratio": 0.98, "total_bytes": 8 << 30, "free_bytes": 160 << 20},
		"health": {"mountpoint": "/dev/shm", "fstype": "tmpfs", "used_ratio": 0.98},
	} {
		f := one(t, run(probes{"disk": map[string]any{"mounts": []any{mount}}}), "disk.almost-full")
		if f.Severity != Critical || f.Subject != "/dev/shm" || f.Title != "The memory-backed file system at /dev/shm is 98% full" {
			t.Errorf("%s variant: %v", name, f)
		}
	}
}

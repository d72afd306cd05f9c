package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// loadHealth reads testdata/health.json, a health snapshot as the
// collector serves it.
func loadHealth(t testing.TB) *protocol.Document {
	t.Helper()
	b, err := os.ReadFile("testdata/health.json")
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// evalString evaluates src over in at now and renders the series sorted:
// "mountpoint=/:0.93".
func evalString(t *testing.T, src string, in Input, now time.Time) []string {
	t.Helper()
	e, err := ParseExpr(src)
	if err != nil {
		t.Fatalf("ParseExpr(%q): %v", src, err)
	}
	var out []string
	for _, s := range e.eval(newEvalCtx(&in, now)) {
		var ls []string
		for k, v := range s.labels {
			ls = append(ls, k+"="+v)
		}
		slices.Sort(ls)
		out = append(out, fmt.Sprintf("%s:%g", strings.Join(ls, ","), s.value))
	}
	slices.Sort(out)
	return out
}

func TestExprOverHealthSample(t *testing.T) {
	in := Input{AgentID: "a1", Health: loadHealth(t), Online: true}
	now := in.Health.CapturedAt
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"disk.used_ratio > 0.9", []string{"mountpoint=/:0.93"}},
		{"disk.used_ratio >= 0", []string{"mountpoint=/:0.93", "mountpoint=/boot/efi:0.01"}},
		{"0.9 < disk.used_ratio", []string{"mountpoint=/:0.93"}},
		{`disk.used_ratio{mountpoint!="/"} < 1`, []string{"mountpoint=/boot/efi:0.01"}},
		{`disk.used_ratio{mountpoint=~"/boot.*"} < 1`, []string{"mountpoint=/boot/efi:0.01"}},
		{`disk.used_ratio{mountpoint!~"/boot.*", mountpoint="/"} > 0`, []string{"mountpoint=/:0.93"}},
		{"disk.inodes_used_ratio > 0.02", []string{"mountpoint=/:0.0266"}},
		{"services.failed > 0", []string{"unit=vpnagentd.service:1"}},
		{`services.failed{unit="sshd.service"} > 0`, nil},
		{"services.failed_count == 1", []string{":1"}},
		{"memory.used_ratio < 0.5", []string{":0.41"}},
		{"memory.pressure_some_avg10 > 20", []string{":27.5"}},
		{"memory.swap_used_bytes > 1e9", []string{":9e+09"}},
		{"memory.available_bytes > 0", []string{":1.4912625868e+10"}},
		{"cpu.usage_percent > 5", []string{":7.3"}},
		{"cpu.load1 > 0 and cpu.load5 > 0 and cpu.load15 > 0", []string{":0.3"}},
		// The cores come from the facts when the input does not say.
		{"cpu.cores == 2", []string{":2"}},
		{"process.top_core_percent > 4", []string{"cmdline=/usr/lib/xorg/Xorg vt1 -displayfd 3 -auth /run/user/1000/gdm/Xauthority -nolisten tcp,pid=3114,process=Xorg,started=2026-11-24T21:38:51Z:4.12"}},
		{"process.top_core_percent > 90 and cpu.cores > 1", nil},
		{`process.top_core_percent{process="Xorg"} > 1 and cpu.cores > 1`, []string{"cmdline=/usr/lib/xorg/Xorg vt1 -displayfd 3 -auth /run/user/1000/gdm/Xauthority -nolisten tcp,pid=3114,process=Xorg,started=2026-11-24T21:38:51Z:4.12"}},
		{"network.errors >= 0", []string{"interface=eth0:0", "interface=lo:0"}},
		{"network.drops > 0", []string{"interface=eth0:12"}},
		{"network.rx_bytes > 1e7 and network.tx_bytes > 0", []string{"interface=eth0:9.4212666e+07"}},
		{"network.resolvers == 0", []string{":0"}},
		{"network.default_route == 0", []string{":0"}},
		{"dns.failing == 1", []string{":1"}},
		// The offset is 4.2 ms, less half the 38.9 ms round trip: none.
		{"time.collector_offset_seconds >= 0", []string{":0"}},
		{"time.synced == 1", []string{":1"}},
		{"agent.online == 1", []string{":1"}},
		{"agent.offline_seconds == 0", []string{":0"}},
		// and keeps the left series agreeing with a right one.
		{"disk.used_ratio > 0 and memory.used_ratio > 0.4", []string{"mountpoint=/:0.93", "mountpoint=/boot/efi:0.01"}},
		{"disk.used_ratio > 0 and memory.used_ratio > 0.5", nil},
		{"disk.used_ratio > 0 and disk.inodes_used_ratio > 0.02", []string{"mountpoint=/:0.93"}},
		// or adds the right series with other labels.
		{"disk.used_ratio > 0.9 or services.failed > 0", []string{"mountpoint=/:0.93", "unit=vpnagentd.service:1"}},
		{"memory.used_ratio > 0.4 or cpu.usage_percent > 0", []string{":0.41"}},
		{"(cpu.usage_percent > 99 or memory.used_ratio > 0.4) and dns.failing == 1", []string{":0.41"}},
		{"disk.used_ratio > 2 or (disk.used_ratio < 0.5 and disk.used_ratio > -1)", []string{"mountpoint=/boot/efi:0.01"}},
	} {
		if got := evalString(t, tc.expr, in, now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestExprAbsentAndFailedProbes(t *testing.T) {
	d := healthDoc(t0, probes{"disk": "not an object", "memory": map[string]any{"used_ratio": 0.5}})
	d.Probes[1].Error = "timeout"
	in := Input{AgentID: "a", Health: d}
	for _, src := range []string{"disk.used_ratio >= 0", "memory.used_ratio >= 0", "cpu.usage_percent >= 0", "dns.failing >= 0", "agent.offline_seconds >= 0"} {
		if got := evalString(t, src, in, t0); got != nil {
			t.Errorf("%s: %q", src, got)
		}
	}
	// Windows has no resolv.conf: no DNS verdict, nor on unknown systems.
	d = healthDoc(t0, probes{"network": map[string]any{"resolvers": 0, "default_route": false}})
	d.Facts.OS = "windows"
	if got := evalString(t, "dns.failing >= 0 or network.default_route >= 0", Input{Health: d}, t0); got != nil {
		t.Errorf("windows: %q", got)
	}
	// The full snapshot's cpu usage is an object.
	d = healthDoc(t0, probes{"cpu": map[string]any{"usage_percent": map[string]any{"total": 95.5}}})
	if got := evalString(t, "cpu.usage_percent > 90", Input{Health: d}, t0); !slices.Equal(got, []string{":95.5"}) {
		t.Errorf("full cpu: %q", got)
	}
}

func TestExprRate(t *testing.T) {
	nics := func(at time.Time, eth0, wlan0 float64) *protocol.Document {
		return healthDoc(at, probes{"network": map[string]any{"interfaces": []map[string]any{
			{"name": "eth0", "errors": eth0}, {"name": "wlan0", "errors": wlan0}, {"name": "lo"},
		}}})
	}
	in := Input{Previous: nics(minute(0), 100, 500), Health: nics(minute(1), 400, 10)}
	// eth0 climbed 300 in 60 s; wlan0's counter went back (a reboot).
	if got := evalString(t, "rate(network.errors) > 0.5", in, minute(1)); !slices.Equal(got, []string{"interface=eth0:5"}) {
		t.Errorf("rate: %q", got)
	}
	if got := evalString(t, `rate(network.errors{interface="wlan0"}) >= 0`, in, minute(1)); got != nil {
		t.Errorf("reset counter: %q", got)
	}
	in.Previous, in.Health = in.Health, in.Previous
	if got := evalString(t, "rate(network.errors) >= 0", in, minute(1)); got != nil {
		t.Errorf("samples out of order: %q", got)
	}
	if got := evalString(t, "rate(network.errors) >= 0", Input{Health: nics(minute(1), 1, 1)}, minute(1)); got != nil {
		t.Errorf("no previous: %q", got)
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "column 1: expected a field or a number, found end of expression"},
		{"disk.used_ratio", "column 16: expected a comparison"},
		{"disk.used_ratio > ", "column 19: expected a field or a number"},
		{"disk.used > 1", `column 1: unknown field "disk.used"`},
		{"1 > 2", "column 1: a comparison needs a field"},
		{"disk.used_ratio > disk.inodes_used_ratio", "compare a field with a number"},
		{"disk.used_ratio > 0.9 and", "column 26: expected a field or a number"},
		{"disk.used_ratio > 0.9 xor cpu.load1 > 1", `column 23: unexpected "xor"`},
		{"(disk.used_ratio > 0.9", `column 23: expected ")"`},
		{"disk.used_ratio > 1.2.3", "invalid number"},
		{"disk.used_ratio > 1e999", "invalid number"},
		{"disk.used_ratio > - cpu.load1", `expected a number after "-"`},
		{`disk.used_ratio{unit="x"} > 0`, `has no label "unit"`},
		{`disk.used_ratio{mountpoint="/} > 0`, "unterminated string"},
		{`disk.used_ratio{mountpoint=~"("} > 0`, "invalid regular expression"},
		{`disk.used_ratio{mountpoint>"x"} > 0`, "expected = != =~ or !~"},
		{`disk.used_ratio{mountpoint=x} > 0`, "expected a quoted string"},
		{"rate(cpu.load1) > 0", "rate() needs a counter"},
		{"rate(rate(network.errors)) > 0", "rate() of a rate"},
		{"disk.used_ratio ? 1", "unexpected character '?'"},
		{strings.Repeat("(", 40) + "cpu.load1 > 1" + strings.Repeat(")", 40), "nested deeper"},
		{strings.Repeat("x", maxExprLen+1), "longer than"},
	} {
		_, err := ParseExpr(tc.src)
		var ee *ExprError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseExpr(%.40q): %v, want %q", tc.src, err, tc.want)
		}
	}
	e, err := ParseExpr(" -1 <= cpu.load1 or (disk.used_ratio{mountpoint=\"/\"} != .5) ")
	if err != nil || !strings.Contains(e.String(), "cpu.load1") {
		t.Fatalf("valid expression: %v", err)
	}
}

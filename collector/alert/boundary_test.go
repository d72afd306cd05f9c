package alert

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// TestComparisonAtTheThreshold evaluates every operator, with the field on
// either side, on a value equal to, below and above the threshold.
func TestComparisonAtTheThreshold(t *testing.T) {
	in := Input{Health: healthDoc(t0, probes{"memory": map[string]any{"used_ratio": 0.5}})}
	for _, tc := range []struct {
		expr string
		hold bool
	}{
		{"memory.used_ratio > 0.5", false},
		{"memory.used_ratio > 0.49", true},
		{"memory.used_ratio >= 0.5", true},
		{"memory.used_ratio >= 0.51", false},
		{"memory.used_ratio < 0.5", false},
		{"memory.used_ratio < 0.51", true},
		{"memory.used_ratio <= 0.5", true},
		{"memory.used_ratio <= 0.49", false},
		{"memory.used_ratio == 0.5", true},
		{"memory.used_ratio == 0.51", false},
		{"memory.used_ratio != 0.5", false},
		{"memory.used_ratio != 0.51", true},
		// A number on the left flips the operator: 0.5 < x is x > 0.5.
		{"0.5 < memory.used_ratio", false},
		{"0.49 < memory.used_ratio", true},
		{"0.5 <= memory.used_ratio", true},
		{"0.51 <= memory.used_ratio", false},
		{"0.5 > memory.used_ratio", false},
		{"0.51 > memory.used_ratio", true},
		{"0.5 >= memory.used_ratio", true},
		{"0.49 >= memory.used_ratio", false},
		{"0.5 == memory.used_ratio", true},
		{"0.5 != memory.used_ratio", false},
		{"0.51 != memory.used_ratio", true},
		{"-1 < memory.used_ratio", true},
		{"memory.used_ratio > -0.5", true},
	} {
		got := evalString(t, tc.expr, in, t0)
		if hold := slices.Equal(got, []string{":0.5"}); hold != tc.hold || (!hold && got != nil) {
			t.Errorf("%s: %q, want holding %v", tc.expr, got, tc.hold)
		}
	}
}

func TestNumberSyntax(t *testing.T) {
	in := Input{Health: healthDoc(t0, probes{"memory": map[string]any{"used_ratio": 0.5, "available_bytes": 2e9}})}
	for _, expr := range []string{
		"memory.used_ratio == 5e-1",
		"memory.used_ratio == 0.05e+1",
		"memory.used_ratio == 0.05E1",
		"memory.used_ratio == .5",
		"memory.used_ratio==0.5",
		"memory.used_ratio\t==\n0.5\r",
		"memory.available_bytes == 2e+9 and memory.used_ratio < 5e-0",
	} {
		if got := evalString(t, expr, in, t0); len(got) != 1 {
			t.Errorf("%s: %q, want one series", expr, got)
		}
	}
}

// TestParseErrorColumns pins the column each error names, counted in bytes
// from 1, and the start of its message.
func TestParseErrorColumns(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"cpu.load1 > 1 @", "column 15: unexpected character '@'"},
		{"cpu.load1 > 1 and [x]", "column 19: unexpected character '['"},
		{`services.failed{unit="x} > 0`, "column 22: unterminated string"},
		{`services.failed{unit="\q"} > 0`, `column 22: invalid string "\q"`},
		{`services.failed{unit="a\"b} > 0`, "column 22: unterminated string"},
		{"zeta > 1", `column 1: unknown field "zeta"`},
		{"Z > 1", `column 1: unknown field "Z"`},
		{"_z9.a > 1", `column 1: unknown field "_z9.a"`},
		{"cpu.load1 > 1 or", "column 17: expected a field or a number, found end of expression"},
		{"cpu.load1 > or", `column 13: expected a field or a number, found "or"`},
		{"cpu.load1 and", `column 11: expected a comparison (> >= < <= == !=), found "and"`},
		{"cpu.load1 = 1", `column 11: expected a comparison (> >= < <= == !=), found "="`},
		{`services.failed{"x"="y"} > 0`, `column 17: expected a label name, found "x"`},
		{`services.failed{unit="a" unit="b"} > 0`, `column 26: expected "}", found "unit"`},
		{"rate(network.errors > 0", `column 21: expected ")", found ">"`},
		{"rate(1) > 0", `column 6: expected a field or a number, found "1"`},
	} {
		_, err := ParseExpr(tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseExpr(%q): %v, want %q...", tc.src, err, tc.want)
		}
	}
	// A trailing comma in a selector is allowed, as in PromQL.
	if _, err := ParseExpr(`services.failed{unit="a",} > 0`); err != nil {
		t.Errorf("trailing comma: %v", err)
	}
}

func TestExpressionBounds(t *testing.T) {
	const term = "cpu.load1 > 1"
	atLimit := term + strings.Repeat(" ", maxExprLen-len(term))
	if _, err := ParseExpr(atLimit); err != nil {
		t.Errorf("an expression of exactly %d bytes: %v", maxExprLen, err)
	}
	if _, err := ParseExpr(atLimit + " "); err == nil || err.Error() != "column 1: expression longer than 2048 bytes" {
		t.Errorf("one byte more: %v", err)
	}

	nested := func(n int) string { return strings.Repeat("(", n) + term + strings.Repeat(")", n) }
	if _, err := ParseExpr(nested(maxExprDepth)); err != nil {
		t.Errorf("%d parentheses deep: %v", maxExprDepth, err)
	}
	_, err := ParseExpr(nested(maxExprDepth + 1))
	if err == nil || err.Error() != "column 17: parentheses nested deeper than 16" {
		t.Errorf("%d parentheses deep: %v", maxExprDepth+1, err)
	}
	// Depth is nesting, not the count of parentheses: many groups side by
	// side are fine.
	groups := make([]string, 3*maxExprDepth)
	for i := range groups {
		groups[i] = "((" + term + "))"
	}
	if _, err := ParseExpr(strings.Join(groups, " or ")); err != nil {
		t.Errorf("groups side by side: %v", err)
	}
}

func TestRateBoundaries(t *testing.T) {
	nic := func(at time.Time, errs float64) *protocol.Document {
		return healthDoc(at, probes{"network": map[string]any{"interfaces": []map[string]any{{"name": "eth0", "errors": errs}}}})
	}
	// 30 more errors in 60 s: exactly 0.5 a second.
	in := Input{Previous: nic(minute(0), 100), Health: nic(minute(1), 130)}
	if got := evalString(t, "rate(network.errors) >= 0.5", in, minute(1)); !slices.Equal(got, []string{"interface=eth0:0.5"}) {
		t.Errorf(">= 0.5: %q", got)
	}
	if got := evalString(t, "rate(network.errors) > 0.5", in, minute(1)); got != nil {
		t.Errorf("> 0.5: %q", got)
	}
	// A counter that did not move has a rate of zero, not no rate.
	in = Input{Previous: nic(minute(0), 100), Health: nic(minute(1), 100)}
	if got := evalString(t, "rate(network.errors) == 0", in, minute(1)); !slices.Equal(got, []string{"interface=eth0:0"}) {
		t.Errorf("unchanged counter: %q", got)
	}
	// Two samples at the same instant give no rate.
	in = Input{Previous: nic(minute(1), 100), Health: nic(minute(1), 160)}
	if got := evalString(t, "rate(network.errors) >= 0", in, minute(1)); got != nil {
		t.Errorf("same instant: %q", got)
	}
	// An interface new since the previous sample has no rate yet.
	in = Input{Previous: healthDoc(minute(0), probes{"network": map[string]any{"interfaces": []any{}}}), Health: nic(minute(1), 5)}
	if got := evalString(t, "rate(network.errors) >= 0", in, minute(1)); got != nil {
		t.Errorf("new interface: %q", got)
	}
}

func TestCollectorOffset(t *testing.T) {
	for _, tc := range []struct {
		collector map[string]any
		want      []string
	}{
		// 3 s off, measured over a 1 s round trip: at least 2.5 s.
		{map[string]any{"known": true, "offset_ms": 3000, "rtt_ms": 1000}, []string{":2.5"}},
		{map[string]any{"known": true, "offset_ms": -3000, "rtt_ms": 1000}, []string{":2.5"}},
		{map[string]any{"known": true, "offset_ms": 3000, "rtt_ms": -1000}, []string{":2.5"}},
		{map[string]any{"known": true, "offset_ms": 400, "rtt_ms": 1000}, []string{":0"}},
		{map[string]any{"known": false, "offset_ms": 3000}, nil},
	} {
		in := Input{Health: healthDoc(t0, probes{"time": map[string]any{"collector": tc.collector}})}
		if got := evalString(t, "time.collector_offset_seconds >= 0", in, t0); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.collector, got, tc.want)
		}
	}
}

func TestTimeSynced(t *testing.T) {
	for _, tc := range []struct {
		data map[string]any
		want []string
	}{
		{map[string]any{"synced": false, "sync_known": true}, []string{":0"}},
		{map[string]any{"synced": true, "sync_known": true}, []string{":1"}},
		{map[string]any{"synced": false, "sync_known": false}, nil},
		{map[string]any{"synced": false}, nil},
		{map[string]any{"sync_known": true}, nil},
	} {
		in := Input{Health: healthDoc(t0, probes{"time": tc.data})}
		if got := evalString(t, "time.synced >= 0", in, t0); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.data, got, tc.want)
		}
	}
}

func TestNetworkVerdictsNeedTheirSystem(t *testing.T) {
	for _, tc := range []struct {
		os   string
		data map[string]any
		want []string
	}{
		{"linux", map[string]any{"resolvers": 0, "default_route": false}, []string{"dns:1", "route:0"}},
		{"linux", map[string]any{"resolvers": 2, "default_route": true}, []string{"dns:0", "route:1"}},
		{"darwin", map[string]any{"resolvers": 0, "default_route": false}, []string{"dns:1"}},
		{"", map[string]any{"resolvers": 0, "default_route": false}, nil},
		{"linux", map[string]any{"resolvers": 0, "default_route": false,
			"errors": []string{"reading resolver configuration: permission denied", "reading routes: no such file"}}, nil},
	} {
		d := healthDoc(t0, probes{"network": tc.data})
		d.Facts.OS = tc.os
		var got []string
		for _, s := range evalString(t, "dns.failing >= 0", Input{Health: d}, t0) {
			got = append(got, "dns"+s)
		}
		for _, s := range evalString(t, "network.default_route >= 0", Input{Health: d}, t0) {
			got = append(got, "route"+s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: %q, want %q", tc.os, tc.data, got, tc.want)
		}
	}
	// The input's OS wins over the snapshot's facts.
	d := healthDoc(t0, probes{"network": map[string]any{"resolvers": 0}})
	if got := evalString(t, "dns.failing == 1", Input{OS: "windows", Health: d}, t0); got != nil {
		t.Errorf("input says windows: %q", got)
	}
}

func TestFaultWindow(t *testing.T) {
	now := minute(30)
	in := Input{Faults: []Fault{
		{Trigger: "no-dns-resolvers", CapturedAt: now.Add(-FaultWindow)},
		{Trigger: "collector-unreachable", CapturedAt: now.Add(-FaultWindow - time.Nanosecond)},
		{Trigger: "service-failed", CapturedAt: now},
		{Trigger: "service-failed", CapturedAt: now.Add(-time.Minute)},
		{Trigger: "", CapturedAt: now},
	}}
	want := []string{"trigger=no-dns-resolvers:1", "trigger=service-failed:1"}
	if got := evalString(t, "fault.recent == 1", in, now); !slices.Equal(got, want) {
		t.Errorf("fault.recent: %q, want %q", got, want)
	}
	if FaultWindow != 15*time.Minute {
		t.Errorf("FaultWindow = %v; the default rule's help says 15 minutes", FaultWindow)
	}
}

func TestOfflineSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   Input
		want []string
	}{
		{Input{Online: true}, []string{":0"}},
		{Input{Online: true, LastSeen: minute(-10)}, []string{":0"}},
		{Input{LastSeen: minute(-10)}, []string{":600"}},
		// A last-seen time ahead of the collector's clock is not negative.
		{Input{LastSeen: minute(5)}, []string{":0"}},
		{Input{}, nil},
	} {
		if got := evalString(t, "agent.offline_seconds >= 0", tc.in, t0); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSeriesBounds(t *testing.T) {
	var mounts []map[string]any
	for i := range maxSeries + 10 {
		mounts = append(mounts, map[string]any{"mountpoint": "/m" + strings.Repeat("x", i), "used_ratio": 0.99})
	}
	in := Input{Health: healthDoc(t0, probes{"disk": map[string]any{"mounts": mounts}})}
	got := evalString(t, "disk.used_ratio > 0.9", in, t0)
	if len(got) != maxSeries {
		t.Fatalf("%d series, want %d", len(got), maxSeries)
	}
	// The series kept are the first ones, with their labels bounded.
	if !slices.Contains(got, "mountpoint=/m:0.99") || slices.ContainsFunc(got, func(s string) bool { return len(s) > len("mountpoint=:0.99")+maxLabelLen }) {
		t.Errorf("series %q", got[:3])
	}
	long := strings.Repeat("é", maxLabelLen) // 2 bytes a rune: the cut falls inside one
	if c := clip(long); len(c) != maxLabelLen || c != strings.Repeat("é", maxLabelLen/2) {
		t.Errorf("clip: %d bytes", len(c))
	}
	if c := clip("/home"); c != "/home" {
		t.Errorf("clip(/home) = %q", c)
	}
}

func TestTemplateArithmetic(t *testing.T) {
	tmpl, err := parseTemplate("t", `{{ add 1 2 }} {{ sub 5 7 }} {{ div 7 2 }} {{ mul 3 2.5 }} {{ add .Value "1.5" }} {{ sub .Labels.n 1 }}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderTemplate(tmpl, TemplateData{Value: 1, Labels: map[string]string{"n": " 10 "}}), "3 -2 3.5 7.5 2.5 9"; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
	for _, bad := range []string{`{{ mul "x" 1 }}`, `{{ div 1 "x" }}`, `{{ humanizeBytes "x" }}`} {
		if _, err := parseTemplate("t", bad); err == nil || !strings.Contains(err.Error(), `not a number: "x"`) {
			t.Errorf("parseTemplate(%s): %v", bad, err)
		}
	}
}

func TestHumanizeBoundaries(t *testing.T) {
	for _, tc := range []struct {
		f    func(float64) string
		in   float64
		want string
	}{
		{humanizeBytes, 0, "0 B"},
		{humanizeBytes, 1023, "1023 B"},
		{humanizeBytes, 1024, "1.0 KiB"},
		{humanizeBytes, -2048, "-2.0 KiB"},
		{humanizeBytes, 1 << 60, "1.0 EiB"},
		{humanizeBytes, 1 << 70, "1024.0 EiB"},
		{humanizeBytes, 1e30, "867361737988.4 EiB"},
		{humanizeBytes, math.NaN(), "NaN"},
		{humanizeDuration, 0, "0s"},
		{humanizeDuration, 59.9, "59.9s"},
		{humanizeDuration, 60, "1m"},
		{humanizeDuration, 61, "1m 1s"},
		{humanizeDuration, 3600, "1h"},
		{humanizeDuration, 86400 + 60, "1d"},
		{humanizeDuration, -86400, "-1d"},
		{humanizeDuration, math.NaN(), "NaNs"},
		{humanizeDuration, math.Inf(-1), "-Infs"},
		{humanizeDuration, 1.5e300, "1.5e+300s"},
		// Up to the longest Duration, in days; beyond, in seconds. Values
		// past it once rendered as "-".
		{humanizeDuration, maxDurationSeconds, "106751d 23h"},
		{humanizeDuration, -maxDurationSeconds, "-106751d 23h"},
		{humanizeDuration, 1e10, "1e+10s"},
		{humanizeDuration, -1e11, "-1e+11s"},
		{humanizePercent, 0.005, "0%"},
		{humanizePercent, 1, "100%"},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%v → %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAnnotationBound renders a template of exactly maxAnnotationLen bytes
// whole, and one byte more cut with an ellipsis.
func TestAnnotationBound(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{maxAnnotationLen, strings.Repeat("x", maxAnnotationLen)},
		{maxAnnotationLen + 1, strings.Repeat("x", maxAnnotationLen) + "..."},
	} {
		tmpl, err := parseTemplate("t", "{{ range "+strconv.Itoa(tc.n)+" }}x{{ end }}")
		if err != nil {
			t.Fatal(err)
		}
		if got := renderTemplate(tmpl, TemplateData{}); got != tc.want {
			t.Errorf("%d bytes rendered as %d bytes ending %q", tc.n, len(got), got[max(0, len(got)-5):])
		}
	}
}

func TestRuleSetNames(t *testing.T) {
	rs := loadRules(t, "rules:\n  - name: B\n    expr: cpu.load1 > 1\n    severity: info\n  - name: A\n    expr: cpu.load1 > 2\n    severity: info\n")
	if got := rs.Names(); !slices.Equal(got, []string{"A", "B"}) || rs.Rules()[0].Name != "B" || rs.Current() != rs {
		t.Errorf("names %v, rules %v", got, rs.Rules())
	}
	// Rules returns copies.
	rs.Rules()[0].Labels = map[string]string{"x": "y"}
	if rs.rule("B").Labels != nil {
		t.Error("Rules shares the rules")
	}
}

func TestNilRuleSet(t *testing.T) {
	var rs *RuleSet
	if rs.Names() != nil || rs.Rules() != nil || rs.Len() != 0 || rs.rule("x") != nil || rs.Current() != nil {
		t.Error("a nil RuleSet is not empty")
	}
}

func TestLoadErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  LoadError
		want string
	}{
		{LoadError{File: "team.yaml", Line: 3, Msg: "bad"}, "team.yaml:3: bad"},
		{LoadError{File: "team.yaml", Line: 1, Msg: "bad"}, "team.yaml:1: bad"},
		{LoadError{File: "team.yaml", Msg: "bad"}, "team.yaml: bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
		}
	}
	var ee *ExprError
	if _, err := ParseExpr("?"); !errors.As(err, &ee) || ee.Col != 1 {
		t.Errorf("ExprError: %v", err)
	}
}

func TestAbsentFieldsGiveNoSeries(t *testing.T) {
	for _, tc := range []struct {
		probes probes
		expr   string
		want   []string
	}{
		{probes{"services": map[string]any{}}, "services.failed_count >= 0", nil},
		{probes{"services": map[string]any{"failed_units": []string{}}}, "services.failed_count >= 0", []string{":0"}},
		{probes{"services": map[string]any{"failed_units": []string{"", "a.service"}}}, "services.failed >= 0", []string{"unit=a.service:1"}},
		{probes{"cpu": map[string]any{"usage_percent": "busy"}}, "cpu.usage_percent >= 0", nil},
		{probes{"cpu": map[string]any{"usage_percent": map[string]any{"user": 5}}}, "cpu.usage_percent >= 0", nil},
		{probes{"cpu": map[string]any{"load1": 2}}, "cpu.usage_percent >= 0 or cpu.load5 >= 0", nil},
		{probes{"network": map[string]any{"interfaces": []any{}}}, "network.resolvers >= 0", nil},
		{probes{"memory": map[string]any{}}, "network.errors >= 0 or network.resolvers >= 0 or disk.used_ratio >= 0", nil},
		{probes{"network": map[string]any{"resolvers": 3, "interfaces": []map[string]any{{"name": "", "errors": 1}, {"name": "eth0"}}}},
			"network.errors >= 0 or network.resolvers >= 0", []string{":3"}},
		{probes{"disk": map[string]any{"mounts": []map[string]any{{"mountpoint": "", "used_ratio": 1}, {"mountpoint": "/", "inodes_used_ratio": 0.5}}}},
			"disk.used_ratio >= 0 or disk.inodes_used_ratio >= 0", []string{"mountpoint=/:0.5"}},
		// The busiest process needs a PID and its CPU use; a start time
		// beyond any date is left out, and so is an empty command line.
		{probes{"processes": map[string]any{"total": 5}}, "process.top_core_percent >= 0", nil},
		{probes{"processes": map[string]any{"top": map[string]any{"pid": 0, "name": "idle", "cpu_percent": 100}}}, "process.top_core_percent >= 0", nil},
		{probes{"processes": map[string]any{"top": map[string]any{"pid": 7, "name": "x"}}}, "process.top_core_percent >= 0", nil},
		{probes{"processes": map[string]any{"top": map[string]any{"pid": 7, "name": "x", "cpu_percent": 95, "started": 1e12, "cmdline": ""}}},
			"process.top_core_percent >= 0", []string{"pid=7,process=x:95"}},
		{probes{"processes": map[string]any{"top": "busy"}}, "process.top_core_percent >= 0", nil},
		// No cores in the input nor in the snapshot's facts.
		{probes{"cpu": map[string]any{"usage_percent": 5}}, "cpu.cores >= 0", nil},
	} {
		in := Input{Health: healthDoc(t0, tc.probes)}
		if got := evalString(t, tc.expr, in, t0); !slices.Equal(got, tc.want) {
			t.Errorf("%v, %s: %q, want %q", tc.probes, tc.expr, got, tc.want)
		}
	}
	// The input's cores win over the facts'.
	in := Input{CPUs: 8, Health: healthDoc(t0, nil)}
	in.Health.Facts.CPUs = 2
	if got := evalString(t, "cpu.cores > 1", in, t0); !slices.Equal(got, []string{":8"}) {
		t.Errorf("cores: %q", got)
	}
	// Without a health snapshot, only the agent's own fields have series.
	if got := evalString(t, "disk.used_ratio >= 0 or agent.online == 0", Input{}, t0); !slices.Equal(got, []string{":0"}) {
		t.Errorf("no snapshot: %q", got)
	}
}

// TestExpressionSeriesBound: or-ing two fields of many series each still
// gives at most maxSeries.
func TestExpressionSeriesBound(t *testing.T) {
	var mounts []map[string]any
	var units []string
	for i := range maxSeries {
		mounts = append(mounts, map[string]any{"mountpoint": "/m" + strconv.Itoa(i), "used_ratio": 0.99})
		units = append(units, "u"+strconv.Itoa(i)+".service")
	}
	in := Input{Health: healthDoc(t0, probes{"disk": map[string]any{"mounts": mounts}, "services": map[string]any{"failed_units": units}})}
	got := evalString(t, "disk.used_ratio > 0.9 or services.failed > 0", in, t0)
	if len(got) != maxSeries || !slices.Contains(got, "mountpoint=/m0:0.99") || slices.Contains(got, "unit=u0.service:1") {
		t.Fatalf("%d series, want the %d of the left side", len(got), maxSeries)
	}
}

// TestTopProcessLabelsBounded: the busiest process's name and command
// line, from the agent, are cut to maxLabelLen as labels.
func TestTopProcessLabelsBounded(t *testing.T) {
	long := strings.Repeat("é", maxLabelLen)
	in := Input{Health: healthDoc(t0, probes{"processes": map[string]any{"top": map[string]any{"pid": 9, "name": long, "cpu_percent": 99, "cmdline": long}}})}
	c := newEvalCtx(&in, t0)
	got := catalogue["process.top_core_percent"].samples(c, c.cur)
	if len(got) != 1 || len(got[0].labels["process"]) != maxLabelLen || len(got[0].labels["cmdline"]) != maxLabelLen || got[0].labels["pid"] != "9" {
		t.Fatalf("series %+v", got)
	}
}

package alert

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTemplateRendering(t *testing.T) {
	rs := loadRules(t, `rules:
  - name: DiskAlmostFull
    expr: disk.used_ratio > 0.9
    severity: critical
    labels: {team: desktop}
    summary: "Disk {{ .Labels.mountpoint }} on {{ .Labels.hostname }} is {{ printf \"%.0f\" (mul .Value 100) }}% full"
    description: "{{ .Rule }}/{{ .Severity }} for {{ .Labels.team }} ({{ .Labels.agent_id }}): {{ humanizePercent .Value }}, {{ .Labels.missing }}."
    ticket: true
    helpdesk: rt
    queue: Desktop
`)
	e := NewEngine(rs, Options{})
	trs := e.Evaluate(t0, []Input{agentInput(healthDoc(t0, probes{"disk": disk("/var", 0.934)}))})
	if len(trs) != 1 {
		t.Fatalf("transitions: %+v", trs)
	}
	a := trs[0].Alert
	if got, want := a.Annotations["summary"], "Disk /var on ws-0042 is 93% full"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got, want := a.Annotations["description"], "DiskAlmostFull/critical for desktop (agent-1): 93%, ."; got != want {
		t.Errorf("description %q, want %q", got, want)
	}
	wantLabels := map[string]string{"alertname": "DiskAlmostFull", "severity": "critical", "team": "desktop",
		"agent_id": "agent-1", "hostname": "ws-0042", "mountpoint": "/var"}
	for k, v := range wantLabels {
		if a.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, a.Labels[k], v)
		}
	}
	if len(a.Labels) != len(wantLabels) || !a.Ticket || a.Helpdesk != "rt" || a.Queue != "Desktop" || a.Severity != Critical || a.State != Firing || a.Value != 0.934 {
		t.Errorf("alert %+v", a)
	}
	// The transition is a copy: changing it leaves the engine alone.
	a.Labels["mountpoint"] = "x"
	if e.State()[0].Labels["mountpoint"] != "/var" {
		t.Error("transition shares its labels with the engine")
	}
}

func TestTemplateHostnameFromFacts(t *testing.T) {
	rs := loadRules(t, diskRule("    summary: '{{ .Labels.hostname }}'\n"))
	in := agentInput(healthDoc(t0, probes{"disk": disk("/", 0.95)}))
	in.Hostname = ""
	trs := NewEngine(rs, Options{}).Evaluate(t0, []Input{in})
	if len(trs) != 1 || trs[0].Alert.Annotations["summary"] != "ws-0042" {
		t.Fatalf("%+v", trs)
	}
}

func TestTemplateRuntimeErrorAndBound(t *testing.T) {
	tmpl, err := parseTemplate("t", `{{ humanizeBytes .Labels.mountpoint }}`)
	if err != nil {
		t.Fatal(err)
	}
	got := renderTemplate(tmpl, TemplateData{Labels: map[string]string{"mountpoint": "/"}})
	if !strings.HasPrefix(got, "(template error: ") {
		t.Errorf("runtime error rendered %q", got)
	}
	tmpl, err = parseTemplate("t", `{{ range 100000 }}{{ $.Labels.x }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	got = renderTemplate(tmpl, TemplateData{Labels: map[string]string{"x": strings.Repeat("y", 100)}})
	if len(got) != maxAnnotationLen+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("runaway template rendered %d bytes", len(got))
	}
	if tmpl, err := parseTemplate("t", ""); tmpl != nil || err != nil || renderTemplate(nil, TemplateData{}) != "" {
		t.Error("empty template")
	}
	for _, bad := range []string{"{{ .Value", "{{ nosuchfunc 1 }}", "{{ mul .Value \"x\" }}", "{{ .Labels.a.b }}"} {
		if _, err := parseTemplate("t", bad); err == nil {
			t.Errorf("parseTemplate(%q) accepted", bad)
		}
	}
}

func TestHumanize(t *testing.T) {
	for _, tc := range []struct {
		f    func(float64) string
		in   float64
		want string
	}{
		{humanizeBytes, 512, "512 B"},
		{humanizeBytes, 1536, "1.5 KiB"},
		{humanizeBytes, 9e9, "8.4 GiB"},
		{humanizeBytes, math.Inf(1), "+Inf"},
		{humanizeDuration, 2.5, "2.5s"},
		{humanizeDuration, 660, "11m"},
		{humanizeDuration, 3725, "1h 2m"},
		{humanizeDuration, 90000, "1d 1h"},
		{humanizeDuration, -120, "-2m"},
		{humanizeDuration, 1e300, "1e+300s"},
		{humanizePercent, 0.934, "93%"},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%v → %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, v := range []any{1, int64(2), uint64(3), 4.5, " 6 ", ""} {
		if _, err := toFloat(v); err != nil {
			t.Errorf("toFloat(%v): %v", v, err)
		}
	}
	for _, v := range []any{"x", []int{1}, nil} {
		if _, err := toFloat(v); err == nil {
			t.Errorf("toFloat(%v) accepted", v)
		}
	}
	x, err := arith(7, 2, func(a, b float64) float64 { return a / b })
	if err != nil || x != 3.5 {
		t.Errorf("div: %v %v", x, err)
	}
	names := slices.Sorted(maps.Keys(templateFuncs))
	if !slices.Equal(names, []string{"add", "div", "humanizeBytes", "humanizeDuration", "humanizePercent", "mul", "sub"}) {
		t.Errorf("funcs %v", names)
	}
}

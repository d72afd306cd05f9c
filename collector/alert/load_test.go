package alert

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"DiskAlmostFull", "InodesAlmostFull", "MemoryPressure", "ServiceFailed",
		"AgentOffline", "ClockSkew", "DNSFailing", "HighCPU", "InterfaceErrors"} {
		if rs.rule(name) == nil {
			t.Errorf("default pack lacks %s", name)
		}
	}
	r := rs.rule("HighCPU")
	if r.For != 15*time.Minute || r.KeepFiringFor != DefaultKeepFiringFor || r.Severity != Warning || r.Source != "defaults/health.yaml:77" {
		t.Errorf("HighCPU: %+v", r)
	}
	if len(rs.Rules()) != rs.Len() || len(Fields()) != len(catalogue) {
		t.Error("Rules or Fields incomplete")
	}
}

func TestLoadTeamOverridesAndDisables(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.yaml": "rules:\n  - name: DiskAlmostFull\n    expr: disk.used_ratio > 0.8\n    severity: warning\n    labels: {team: desktop}\n",
		"b.yml":  "rules:\n  - name: HighCPU\n    disabled: true\n  - name: Custom\n    expr: cpu.load5 > 8\n    severity: info\n",
		"c.txt":  "not rules",
	})
	rs, err := Load(DefaultRules, dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rs.rule("DiskAlmostFull")
	if r.Expr != "disk.used_ratio > 0.8" || r.Labels["team"] != "desktop" || r.Source != filepath.Join(dir, "a.yaml")+":2" {
		t.Errorf("override: %+v", r)
	}
	if rs.rule("HighCPU") != nil || rs.rule("Custom") == nil {
		t.Errorf("rules: %v", rs.Names())
	}
	if rs, err := Load(nil, filepath.Join(dir, "missing")); err != nil || rs.Len() != 0 {
		t.Errorf("missing dir: %v %v", rs, err)
	}
}

func TestLoadErrors(t *testing.T) {
	const head = "rules:\n  - name: R\n"
	for _, tc := range []struct {
		name, body string
		line       int
		want       string
	}{
		{"unknown field", head + "    expr: cpu.load1 > 1\n    severity: info\n    serverity: info\n", 5, "field serverity not found in a rule"},
		{"unknown top field", "rule:\n  - name: R\n", 1, "field rule not found"},
		{"bad expression", head + "    expr: disk.used_ratio >\n    severity: info\n", 3, "column 18: expected a field or a number"},
		{"unknown selector", head + "    severity: info\n    expr: disk.usedratio > 0.9\n", 4, `unknown field "disk.usedratio"`},
		{"bad duration", head + "    expr: cpu.load1 > 1\n    for: 10 minutes\n    severity: info\n", 4, `for: invalid duration "10 minutes"`},
		{"negative duration", head + "    expr: cpu.load1 > 1\n    keep_firing_for: -1m\n    severity: info\n", 4, "negative duration"},
		{"unknown severity", head + "    expr: cpu.load1 > 1\n    severity: urgent\n", 4, `severity "urgent" is not one of`},
		{"bad template", head + "    expr: cpu.load1 > 1\n    severity: info\n    summary: '{{ .Value'\n", 5, "summary:"},
		{"template field", head + "    expr: cpu.load1 > 1\n    severity: info\n    description: '{{ .Nope }}'\n", 5, "can't evaluate field Nope"},
		{"reserved label", head + "    expr: cpu.load1 > 1\n    severity: info\n    labels: {severity: low}\n", 5, "set by the engine"},
		{"bad name", "rules:\n  - name: 'has space'\n    expr: cpu.load1 > 1\n", 2, "invalid rule name"},
		{"no expr", head + "    severity: info\n", 2, "expr is required"},
		{"duplicate", head + "    expr: cpu.load1 > 1\n    severity: info\n" + head[7:] + "    expr: cpu.load1 > 1\n    severity: info\n", 5, "already defined at"},
		{"disable nothing", head + "    disabled: true\n", 2, "no default rule"},
		{"syntax", "rules:\n  - name: R\n    expr: x: y\n", 3, "mapping values are not allowed"},
		{"wrong type", head + "    ticket: maybe\n", 3, "cannot unmarshal"},
		{"two documents", "rules: []\n---\nrules: []\n", 2, "only one YAML document"},
		{"rate of gauge", head + "    expr: rate(disk.used_ratio) > 1\n    severity: info\n", 3, "rate() needs a counter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRules(t, map[string]string{"team.yaml": tc.body})
			_, err := Load(nil, dir)
			if err == nil {
				t.Fatal("loaded")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("%T %v, want a LoadError", err, err)
			}
			prefix := filepath.Join(dir, "team.yaml") + ":" + strconv.Itoa(tc.line) + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q... containing %q", err, prefix, tc.want)
			}
		})
	}
}

func TestLoadReportsEveryFile(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.yaml": "rules:\n  - name: A\n    expr: nope > 1\n    severity: info\n",
		"b.yaml": "rules:\n  - name: B\n    expr: cpu.load1 > 1\n    severity: loud\n",
	})
	_, err := Load(nil, dir)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:3:") || !strings.Contains(err.Error(), "b.yaml:4:") {
		t.Fatalf("error %v, want both files", err)
	}
}

func TestLoadDefaultsFS(t *testing.T) {
	defaults := fstest.MapFS{
		"one.yaml": {Data: []byte("rules:\n  - name: A\n    expr: cpu.load1 > 1\n    severity: info\n")},
		"two.yaml": {Data: []byte("rules:\n  - name: A\n    expr: cpu.load1 > 2\n    severity: info\n")},
	}
	_, err := Load(defaults, "")
	if err == nil || !strings.Contains(err.Error(), "defaults/two.yaml:2: rule \"A\" is already defined at defaults/one.yaml:2") {
		t.Fatalf("error %v", err)
	}
	empty := fstest.MapFS{"empty.yaml": {Data: nil}}
	if rs, err := Load(empty, ""); err != nil || rs.Len() != 0 {
		t.Fatalf("empty file: %v %v", rs, err)
	}
}

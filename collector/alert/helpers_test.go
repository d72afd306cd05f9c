package alert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// t0 is the start of every simulated timeline.
var t0 = time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// probes are a health snapshot's probe data by probe name.
type probes map[string]any

// healthDoc builds a health snapshot captured at at.
func healthDoc(at time.Time, ps probes) *protocol.Document {
	d := &protocol.Document{AgentID: "agent-1", Kind: "health", CapturedAt: at, Facts: &protocol.Facts{Hostname: "ws-0042", OS: "linux"}}
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := json.Marshal(ps[n])
		if err != nil {
			panic(err)
		}
		d.Probes = append(d.Probes, protocol.ProbeJSON{Name: n, Data: b})
	}
	return d
}

// disk is the disk probe's health data for mount points and used ratios,
// given as pairs.
func disk(pairs ...any) map[string]any {
	var mounts []map[string]any
	for i := 0; i+1 < len(pairs); i += 2 {
		mounts = append(mounts, map[string]any{"mountpoint": pairs[i], "used_ratio": pairs[i+1], "inodes_used_ratio": 0.01})
	}
	return map[string]any{"mounts": mounts}
}

// agentInput is agent-1, online, with the snapshot at.
func agentInput(d *protocol.Document) Input {
	return Input{AgentID: "agent-1", Hostname: "ws-0042", Health: d, LastSeen: d.CapturedAt, Online: true}
}

// writeRules writes files (name → content) to a new directory.
func writeRules(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadRules loads one team file of rules, without the default pack.
func loadRules(t testing.TB, body string) *RuleSet {
	t.Helper()
	rs, err := Load(nil, writeRules(t, map[string]string{"team.yaml": body}))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// diskRule is a rule on disk.used_ratio with the given extra lines.
func diskRule(extra string) string {
	return "rules:\n  - name: DiskAlmostFull\n    expr: disk.used_ratio > 0.9\n    severity: critical\n" + extra
}

// timeline evaluates e once a minute from minute from to minute to
// (inclusive) with the inputs at(n) gives, and returns the transitions as
// "kind alertname{labels} @Nm", silencing nothing itself.
func timeline(e *Engine, from, to int, at func(n int) []Input) []string {
	var out []string
	for n := from; n <= to; n++ {
		for _, tr := range e.Evaluate(minute(n), at(n)) {
			out = append(out, fmt.Sprintf("%s %s @%dm", tr.Kind, describeAlert(tr.Alert), n))
		}
	}
	return out
}

// describeAlert names an alert by rule and series labels.
func describeAlert(a Alert) string {
	var ls []string
	for k, v := range a.Labels {
		switch k {
		case "alertname", "severity", "agent_id", "hostname", "team":
		default:
			ls = append(ls, k+"="+v)
		}
	}
	slices.Sort(ls)
	return a.Rule + "{" + strings.Join(ls, ",") + "}"
}

// only keeps the events of the given kinds.
func only(events []string, kinds ...string) []string {
	return slices.DeleteFunc(slices.Clone(events), func(e string) bool {
		return !slices.Contains(kinds, strings.Fields(e)[0])
	})
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("transitions:\n got  %q\n want %q", got, want)
	}
}

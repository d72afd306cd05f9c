package findings

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// now is the capture time of the snapshots the tests build.
var now = time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)

// probes are a snapshot's probe data by probe name.
type probes map[string]any

// snap builds a full snapshot of a 4-CPU Linux machine with 8 GiB of
// memory, captured at at.
func snap(at time.Time, ps probes) *protocol.Document {
	d := &protocol.Document{Kind: "full", CapturedAt: at,
		Facts: &protocol.Facts{Hostname: "ws-1", OS: "linux", CPUs: 4, MemoryBytes: 8 << 30}}
	for _, name := range slices.Sorted(maps.Keys(ps)) {
		b, err := json.Marshal(ps[name])
		if err != nil {
			panic(err)
		}
		d.Probes = append(d.Probes, protocol.ProbeJSON{Name: name, Data: b})
	}
	return d
}

// run analyzes a snapshot of ps, with no history, letting panics through.
func run(ps probes) []Finding { return analyze(snap(now, ps), nil, false) }

// only returns the findings of id; all of them when id is "".
func only(fs []Finding, id string) []Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f Finding) bool { return id != "" && f.ID != id })
}

// one returns the single finding of id (of any ID when id is ""), failing the test when there is
// not exactly one.
func one(t *testing.T, fs []Finding, id string) Finding {
	t.Helper()
	got := only(fs, id)
	if len(got) != 1 {
		t.Fatalf("%d %s findings in %v, want one", len(got), id, ids(fs))
	}
	return got[0]
}

// severityOf returns the severity of the single finding of id, or 0 when
// there is none.
func severityOf(t *testing.T, fs []Finding, id string) Severity {
	t.Helper()
	switch got := only(fs, id); len(got) {
	case 0:
		return 0
	case 1:
		return got[0].Severity
	default:
		t.Fatalf("%d %s findings", len(got), id)
	}
	return 0
}

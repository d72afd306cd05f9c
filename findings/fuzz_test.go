package findings

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// probeNames are the probes the analyzers read.
var probeNames = []string{"cpu", "disk", "disk-usage", "memory", "network", "processes", "services", "system", "time"}

// FuzzAnalyze feeds arbitrary bytes as every probe's data, in the
// snapshot and in its history, and demands that no analyzer panics. The
// corpus starts from the probe data of every case.
func FuzzAnalyze(f *testing.F) {
	for _, name := range cases(f) {
		doc, history := loadCase(f, name)
		for _, d := range append([]*protocol.Document{doc}, history...) {
			for _, p := range d.Probes {
				if len(p.Data) > 0 {
					f.Add([]byte(p.Data), []byte(p.Data))
				}
			}
		}
	}
	f.Add([]byte(`{"mounts":[{"mountpoint":"/","used_ratio":-1e308}]}`), []byte(`{"mounts":[{"mountpoint":"/","used_ratio":1e308}]}`))
	// The disk and disk-usage probes read the same mounts.
	f.Add([]byte(`{"mounts":[{"mountpoint":"/","used_ratio":0.99,"largest_dirs":[{"path":"/var","bytes":5},{"path":"/var/log","bytes":4}],"largest_files":[{"path":"/var/log/x","bytes":4}]}]}`),
		[]byte(`{"mounts":[{"mountpoint":"/","used_ratio":0.9,"largest_dirs":[{"path":"/var","bytes":1},{"path":"/var/log","bytes":0}]}]}`))
	f.Add([]byte(`{"collector":{"known":true,"offset_ms":1e308,"rtt_ms":-1e308}}`), []byte(`[]`))
	f.Add([]byte(`{"top":{"pid":1,"name":"x","cpu_percent":1e308,"window_seconds":1e308,"started":-5},"logical_cores":8}`),
		[]byte(`{"top_cpu":[{"pid":1,"cpu_percent":100,"started":9e18}],"top":{"pid":1,"cpu_percent":100,"window_seconds":-1}}`))
	kb, err := LoadKB("")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data, old []byte) {
		doc := fuzzDoc(data, now)
		history := []*protocol.Document{fuzzDoc(old, now.Add(-2*time.Hour)), fuzzDoc(data, now.Add(-3*time.Hour))}
		fs := analyze(doc, history, false)
		for _, f := range fs {
			if _, err := json.Marshal(f); err != nil {
				t.Fatalf("%s does not encode: %v", f.ID, err)
			}
		}
		if err := Check(io.Discard, doc, kb); err != nil {
			t.Fatal(err)
		}
	})
}

func fuzzDoc(data []byte, at time.Time) *protocol.Document {
	doc := &protocol.Document{Kind: "full", CapturedAt: at, Facts: &protocol.Facts{OS: "linux", CPUs: 4, MemoryBytes: 1 << 30}}
	for _, name := range probeNames {
		doc.Probes = append(doc.Probes, protocol.ProbeJSON{Name: name, Data: json.RawMessage(data)})
	}
	return doc
}

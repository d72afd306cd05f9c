// Package apitest holds what the tests of the collector's doors (api, ui,
// cli, access) share: a live side with no agent connected, and a machine
// with a full disk and a failed service in a real store.
package apitest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// Offline is the live side of a collector none of whose agents is
// connected: real behaviour, not a fake.
type Offline struct{}

// Connected lists no agent.
func (Offline) Connected() map[string]ingest.Link { return map[string]ingest.Link{} }

// RequestSnapshot answers that the agent is offline.
func (Offline) RequestSnapshot(context.Context, string, []string) (int64, error) {
	return 0, ingest.ErrOffline
}

// PutFixture stores agent id with the facts and the one full snapshot of
// package findings' full-disk-failed-service case.
func PutFixture(t testing.TB, st store.Store, id string) {
	t.Helper()
	PutCase(t, st, id, "full-disk-failed-service", time.Time{})
}

// PutCase stores a full snapshot of agent id from package findings' case
// name, captured at at (the case's own time when zero), and returns its
// ID. The agent is recorded with the case's facts unless it exists.
func PutCase(t testing.TB, st store.Store, id, name string, at time.Time) int64 {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "../../../findings/testdata", name, "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc protocol.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.AddAgent(ctx, store.Agent{ID: id, Facts: *doc.Facts, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	doc.AgentID, doc.Facts = id, nil
	if !at.IsZero() {
		doc.CapturedAt, doc.Seq = at, uint64(at.UnixNano())
	}
	snap, _, err := st.PutSnapshot(ctx, &store.Snapshot{Document: doc, ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// PutAlerts stores the alerts the default rules raise on agent id over the
// 20 minutes to now, through a real engine: reportgen held one core of
// eight until two minutes ago (SingleCoreRunaway fired, and is still firing
// through its keep_firing_for), and / has been 95% full for three minutes
// (DiskAlmostFull pending).
func PutAlerts(t testing.TB, st store.Store, id string, now time.Time) {
	t.Helper()
	rules, err := alert.Load(alert.DefaultRules, "")
	if err != nil {
		t.Fatal(err)
	}
	e := alert.NewEngine(rules, alert.Options{})
	for n := -20; n <= 0; n++ {
		at := now.Add(time.Duration(n) * time.Minute)
		top := map[string]any{"pid": 4242, "name": "reportgen", "cpu_percent": 99.4, "window_seconds": 60, "cmdline": "reportgen --job nightly"}
		if n >= -1 {
			top = map[string]any{"pid": 880, "name": "firefox", "cpu_percent": 6, "window_seconds": 60}
		}
		used := 0.5
		if n >= -3 {
			used = 0.95
		}
		doc := &protocol.Document{AgentID: id, Kind: "health", CapturedAt: at, Probes: []protocol.ProbeJSON{
			probeJSON(t, "processes", map[string]any{"total": 200, "top": top}),
			probeJSON(t, "disk", map[string]any{"mounts": []map[string]any{{"mountpoint": "/", "used_ratio": used}}}),
		}}
		e.Evaluate(at, []alert.Input{{AgentID: id, Hostname: "pc1", OS: "linux", CPUs: 8, Health: doc, LastSeen: at, Online: true}})
	}
	if err := st.SaveAlertState(context.Background(), e.State()); err != nil {
		t.Fatal(err)
	}
}

func probeJSON(t testing.TB, name string, data any) protocol.ProbeJSON {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.ProbeJSON{Name: name, Data: b}
}

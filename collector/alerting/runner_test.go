package alerting

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

type recorder struct {
	mu sync.Mutex
	ts []alert.Transition
}

func (r *recorder) Notify(_ context.Context, ts []alert.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ts = append(r.ts, ts...)
}

const testRule = `rules:
  - name: DiskAlmostFull
    expr: disk.used_ratio > 0.9
    for: 0s
    keep_firing_for: 0s
    severity: critical
    ticket: true
`

// TestRunnerFiresPersistsAndKeepsRulesOnBadReload evaluates a health
// snapshot with a full disk, saves the state for a restart, and keeps the
// rules in force (and evaluating) when a bad rule file appears.
func TestRunnerFiresPersistsAndKeepsRulesOnBadReload(t *testing.T) {
	a := fleet(t, 1)
	ctx := context.Background()
	raw, _ := os.ReadFile("../../findings/testdata/health/snapshot.json")
	var doc protocol.Document
	json.Unmarshal(raw, &doc)
	doc.AgentID, doc.Seq = "ag1", 2
	if _, _, err := a.Store.PutSnapshot(ctx, &store.Snapshot{Document: doc, ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(testRule), 0o600)
	rules, err := alert.NewReloader(alert.DefaultRules, dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r := &Runner{Engine: alert.NewEngine(rules, alert.Options{}), Store: a.Store, Notifiers: []Notifier{rec}}
	if err := r.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := r.Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	if len(rec.ts) != 1 || rec.ts[0].Kind != alert.KindFiring || rec.ts[0].Alert.Labels["mountpoint"] != "/" {
		t.Fatalf("transitions: %+v", rec.ts)
	}
	saved, _ := a.Store.AlertState(ctx)
	firing := 0
	for _, s := range saved {
		if s.State == alert.Firing {
			firing++
		}
	}
	if firing != 1 {
		t.Fatalf("saved state: %+v", saved)
	}

	// A restarted runner restores the state: no second firing.
	r2 := &Runner{Engine: alert.NewEngine(rules, alert.Options{}), Store: a.Store, Notifiers: []Notifier{rec}}
	if err := r2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a new mtime for the rule file below
	os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(testRule+"    bogus: 1\n"), 0o600)
	changed, err := rules.Check()
	if !changed || err == nil || !strings.Contains(err.Error(), "test.yaml:8") {
		t.Fatalf("bad reload: changed %v, err %v", changed, err)
	}
	if err := r2.Tick(ctx, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(rec.ts) != 1 {
		t.Errorf("after a restart and a bad reload: %+v", rec.ts[1:])
	}
	if r := rules.Current().Names(); !strings.Contains(strings.Join(r, ","), "DiskAlmostFull") {
		t.Errorf("rules in force: %v", r)
	}
}

// TestInputsCarryRecentFaults: the engine sees the snapshots an agent
// took at a fault within alert.FaultWindow, and no older ones; and the
// machine's cores, from the agent's facts (stored snapshots keep none).
func TestInputsCarryRecentFaults(t *testing.T) {
	a := fleet(t, 1)
	ctx := context.Background()
	now := time.Now().UTC()
	for i, age := range []time.Duration{2 * time.Minute, time.Hour} {
		doc := protocol.Document{AgentID: "ag1", BootEpoch: 1, Seq: uint64(i + 1), Kind: "full", CapturedAt: now.Add(-age),
			Trigger: "no-dns-resolvers"}
		if _, _, err := a.Store.PutSnapshot(ctx, &store.Snapshot{Document: doc, ReceivedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runner{Store: a.Store}
	ins, err := r.Inputs(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || len(ins[0].Faults) != 1 || ins[0].Faults[0].Trigger != "no-dns-resolvers" || ins[0].CPUs != 2 {
		t.Fatalf("inputs: %+v", ins)
	}
}

package alert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodRules = "rules:\n  - name: Custom\n    expr: cpu.load5 > 8\n    severity: info\n"

func TestReloadKeepsPreviousOnError(t *testing.T) {
	dir := writeRules(t, map[string]string{"team.yaml": goodRules})
	r, err := NewReloader(DefaultRules, dir)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Current()
	if before.rule("Custom") == nil || before.rule("DiskAlmostFull") == nil {
		t.Fatalf("rules %v", before.Names())
	}
	e := NewEngine(r, Options{})

	bad := filepath.Join(dir, "team.yaml")
	write(t, bad, goodRules+"  - name: Broken\n    expr: cpu.load5 >\n    severity: info\n")
	err = r.Reload()
	if err == nil || !strings.Contains(err.Error(), bad+":6:") || !strings.Contains(err.Error(), "previous rules kept") {
		t.Fatalf("reload error %v", err)
	}
	if r.Current() != before {
		t.Fatal("a bad reload replaced the rules")
	}
	// The engine goes on with the previous rules.
	in := agentInput(healthDoc(t0, probes{"cpu": map[string]any{"load5": 9}}))
	if trs := e.Evaluate(t0, []Input{in}); len(trs) != 1 || trs[0].Alert.Rule != "Custom" {
		t.Fatalf("transitions %+v", trs)
	}

	write(t, bad, strings.ReplaceAll(goodRules, "Custom", "Renamed"))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Current().rule("Renamed") == nil || r.Current().rule("Custom") != nil {
		t.Fatalf("rules after a good reload: %v", r.Current().Names())
	}
	// The removed rule's alert resolves; the renamed one fires.
	trs := e.Evaluate(minute(1), []Input{in})
	if len(trs) != 2 || trs[0].Alert.Rule != "Custom" || trs[0].Kind != KindResolved || trs[1].Alert.Rule != "Renamed" {
		t.Fatalf("transitions %+v", trs)
	}
}

func TestNewReloaderFailsOnBadRules(t *testing.T) {
	dir := writeRules(t, map[string]string{"team.yaml": "rules:\n  - name: X\n    nope: 1\n"})
	if _, err := NewReloader(nil, dir); err == nil || !strings.Contains(err.Error(), "team.yaml:3:") {
		t.Fatalf("error %v", err)
	}
}

func TestReloaderCheck(t *testing.T) {
	dir := writeRules(t, map[string]string{"team.yaml": goodRules})
	r, err := NewReloader(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Check(); changed || err != nil {
		t.Fatalf("unchanged directory: %v %v", changed, err)
	}
	write(t, filepath.Join(dir, "more.yml"), strings.ReplaceAll(goodRules, "Custom", "More"))
	if changed, err := r.Check(); !changed || err != nil || r.Current().Len() != 2 {
		t.Fatalf("new file: %v %v %v", changed, err, r.Current().Names())
	}
	write(t, filepath.Join(dir, "more.yml"), "rules: [")
	if changed, err := r.Check(); !changed || err == nil || r.Current().Len() != 2 {
		t.Fatalf("bad file: %v %v", changed, err)
	}
	// A failed reload is not retried until the files change again.
	if changed, err := r.Check(); changed || err != nil {
		t.Fatalf("retried: %v %v", changed, err)
	}
	if err := os.Remove(filepath.Join(dir, "more.yml")); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Check(); !changed || err != nil || r.Current().Len() != 1 {
		t.Fatalf("file removed: %v %v", changed, err)
	}
}

func TestWatch(t *testing.T) {
	dir := writeRules(t, map[string]string{"team.yaml": goodRules})
	r, err := NewReloader(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 10)
	done := make(chan struct{})
	go func() {
		r.Watch(ctx, time.Millisecond, func(err error) { errs <- err })
		close(done)
	}()
	write(t, filepath.Join(dir, "team.yaml"), "rules:\n  - name: X\n    for: soon\n")
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "team.yaml:") {
			t.Errorf("error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Watch reported no error for a bad file")
	}
	if r.Current().rule("Custom") == nil {
		t.Error("Watch dropped the rules in force")
	}
	cancel()
	<-done
}

func write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderDirectoryStates(t *testing.T) {
	// No team directory, or one not created yet: the defaults alone, and
	// nothing to reload.
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "later")} {
		r, err := NewReloader(DefaultRules, dir)
		if err != nil {
			t.Fatal(err)
		}
		if changed, err := r.Check(); changed || err != nil || r.Current().rule("DiskAlmostFull") == nil {
			t.Fatalf("%q: %v %v", dir, changed, err)
		}
	}
	// The directory turns into a file: an error, the rules stay.
	dir := writeRules(t, map[string]string{"team.yaml": goodRules})
	r, err := NewReloader(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "not a directory")
	if changed, err := r.Check(); changed || err == nil || r.Current().rule("Custom") == nil {
		t.Fatalf("directory became a file: %v %v", changed, err)
	}
	if _, err := Load(nil, dir); err == nil {
		t.Fatal("Load read a file as a directory")
	}
}

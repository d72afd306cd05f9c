package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/ingest"
)

// TestRequestProcessesByName: the process names L2 asks about travel in
// the signed request to a real agent, whose processes probe finds them:
// this test's own process by its executable's name, with its command
// line; a name no process has comes back as not found. A malformed name
// never leaves the collector.
func TestRequestProcessesByName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "procs-host")
	h.runAgent(t, id, 0)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Base(exe)

	ctx, cancel := context.WithTimeout(ingest.WithProcesses(t.Context(), []string{self, "no-such-process-sonde"}), patience)
	defer cancel()
	sid, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"processes"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := h.store.Snapshot(t.Context(), sid)
	if err != nil || len(snap.Probes) != 1 {
		t.Fatalf("stored snapshot %d: %v, %+v", sid, err, snap)
	}
	var got struct {
		Named []struct {
			Name      string `json:"name"`
			Processes []struct {
				PID     int    `json:"pid"`
				Cmdline string `json:"cmdline"`
			} `json:"processes"`
		} `json:"named"`
		NotFound []string `json:"not_found"`
	}
	if err := json.Unmarshal(snap.Probes[0].Data, &got); err != nil {
		t.Fatalf("processes data %s: %v", snap.Probes[0].Data, err)
	}
	if !slices.Equal(got.NotFound, []string{"no-such-process-sonde"}) {
		t.Errorf("not found: %q", got.NotFound)
	}
	found := false
	for _, n := range got.Named {
		for _, p := range n.Processes {
			if n.Name == self && p.PID == os.Getpid() && strings.Contains(p.Cmdline, "-test.") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("this process (%s, PID %d) is not among those named: %s", self, os.Getpid(), snap.Probes[0].Data)
	}

	bad, cancel2 := context.WithTimeout(ingest.WithProcesses(t.Context(), []string{"../../etc/passwd"}), patience)
	defer cancel2()
	if _, err := h.srv.RequestSnapshot(bad, id.AgentID, []string{"processes"}); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("a path as a process name: %v, want it refused", err)
	}
}

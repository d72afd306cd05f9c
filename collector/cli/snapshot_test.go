package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/sondehq/sonde/collector/api"
)

// TestSnapshotProcessFlag: --process, comma-separated or repeated, goes
// to the API as "processes"; with --probes that leave out the processes
// probe, the CLI adds it, since it is the probe that finds them.
func TestSnapshotProcessFlag(t *testing.T) {
	var got []api.SnapshotRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req api.SnapshotRequest
		if r.Method != "POST" || r.URL.Path != "/api/v1/agents/pc-1/snapshots" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		got = append(got, req)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":7,"kind":"full","captured_at":"2026-12-01T10:00:00Z","received_at":"2026-12-01T10:00:01Z"}`)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"pc-1", "--process", "java,sonde-canary-proc"},
		{"pc-1", "--process", "java", "--process", "sshd", "--probes", "cpu"},
		{"pc-1"},
	} {
		if err := snapshot(context.Background(), c, args, io.Discard, io.Discard); err != nil {
			t.Fatalf("sonde snapshot %q: %v", args, err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d requests", len(got))
	}
	if !slices.Equal(got[0].Processes, []string{"java", "sonde-canary-proc"}) || got[0].Probes != nil {
		t.Errorf("--process java,sonde-canary-proc: %+v", got[0])
	}
	if !slices.Equal(got[1].Processes, []string{"java", "sshd"}) || !slices.Equal(got[1].Probes, []string{"cpu", "processes"}) {
		t.Errorf("--process twice with --probes cpu: %+v", got[1])
	}
	if got[2].Processes != nil || got[2].Probes != nil {
		t.Errorf("no flags: %+v", got[2])
	}
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestSnapshotUserAgreedFlag: --user-agreed goes to the API as
// "user_agreed", and only with the flag; the refusal of heavy probes on a
// low battery is printed in the agent's words, which name the flag; the
// help says when to use it.
func TestSnapshotUserAgreedFlag(t *testing.T) {
	const held = "agent pc-1 (pc-1): the machine is on battery at 14 %; heavy probes wait until it charges or is at 20 % or more, unless the user agrees: sonde snapshot --user-agreed"
	var got []api.SnapshotRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req api.SnapshotRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		got = append(got, req)
		w.Header().Set("Content-Type", "application/json")
		if !req.UserAgreed {
			w.Header().Set("Retry-After", "300")
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]string{"error": held})
			return
		}
		io.WriteString(w, `{"id":7,"kind":"full","captured_at":"2026-12-01T10:00:00Z","received_at":"2026-12-01T10:00:01Z"}`)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	err = snapshot(context.Background(), c, []string{"pc-1", "--probes", "logs"}, io.Discard, io.Discard)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || !strings.Contains(err.Error(), held) {
		t.Errorf("without --user-agreed on a low battery: %v, want the 429 in the agent's words", err)
	}
	if err := snapshot(context.Background(), c, []string{"pc-1", "--probes", "logs", "--user-agreed"}, io.Discard, io.Discard); err != nil {
		t.Errorf("with --user-agreed: %v", err)
	}
	if len(got) != 2 || got[0].UserAgreed || !got[1].UserAgreed {
		t.Errorf("requests %+v: want user_agreed only with the flag", got)
	}
	var help strings.Builder
	snapshot(context.Background(), c, []string{"--help"}, io.Discard, &help)
	if !strings.Contains(help.String(), "-user-agreed") || !strings.Contains(help.String(), "only when the end user agreed") {
		t.Errorf("help:\n%s", help.String())
	}
}

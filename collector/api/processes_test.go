package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
)

// askedAgents records what a snapshot request asked of the agent, which
// is offline, or fails with err when set.
type askedAgents struct {
	probes, processes []string
	fresh             bool // a connectivity check was asked for
	freshRun          bool // a fresh run was asked for
	userAgreed        bool // the end user agreed to heavy probes on battery
	calls             int
	err               error
}

func (a *askedAgents) Connected() map[string]ingest.Link { return map[string]ingest.Link{} }
func (a *askedAgents) RequestSnapshot(ctx context.Context, _ string, probes []string) (int64, error) {
	a.calls++
	a.probes, a.processes, a.fresh, a.freshRun = probes, ingest.ProcessesFrom(ctx), ingest.FreshHandshakeFrom(ctx), ingest.FreshFrom(ctx)
	a.userAgreed = ingest.UserAgreedFrom(ctx)
	if a.err != nil {
		return 0, a.err
	}
	return 0, ingest.ErrOffline
}

// TestSnapshotProcesses: the API's "processes" reach the agent request;
// names the protocol refuses, too many of them, or names without the
// processes probe that finds them are refused with 400 before any agent
// is asked.
func TestSnapshotProcesses(t *testing.T) {
	e := newImportEnv(t)
	asked := &askedAgents{}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler)}).Handler()
	post := func(body string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+importKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	if code, body := post(`{"processes":["java","sonde-canary-proc"]}`); code != http.StatusServiceUnavailable {
		t.Fatalf("HTTP %d %s, want 503 from the offline agent", code, body)
	}
	if asked.calls != 1 || !slices.Equal(asked.processes, []string{"java", "sonde-canary-proc"}) || asked.probes != nil {
		t.Errorf("the agent was asked probes %q, processes %q (%d calls)", asked.probes, asked.processes, asked.calls)
	}
	post(`{"probes":["processes","cpu"],"processes":["java"]}`)
	if asked.calls != 2 || !slices.Equal(asked.processes, []string{"java"}) {
		t.Errorf("with probes named: processes %q (%d calls)", asked.processes, asked.calls)
	}
	post(`{"probes":["cpu"]}`)
	if asked.calls != 3 || asked.processes != nil {
		t.Errorf("without process names: processes %q", asked.processes)
	}

	tooMany := `"p0"` + strings.Repeat(`,"p"`, 16)
	for _, tc := range []struct{ body, says string }{
		{`{"processes":["../../etc/passwd"]}`, "not valid"},
		{`{"processes":["C:\\Windows\\cmd.exe"]}`, "not valid"},
		{`{"processes":["java\u001b[2J"]}`, "not valid"},
		{`{"processes":[""]}`, "not valid"},
		{fmt.Sprintf(`{"processes":[%q]}`, strings.Repeat("j", 65)), "not valid"},
		{`{"processes":[` + tooMany + `]}`, "17 process names"},
		{`{"probes":["cpu"],"processes":["java"]}`, "not the processes probe"},
		{`{"probes":["network","cpu","network"]}`, "probe network is named twice"},
	} {
		code, body := post(tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.says) {
			t.Errorf("%s: HTTP %d %s, want 400 saying %q", tc.body, code, body, tc.says)
		}
	}
	if asked.calls != 3 {
		t.Errorf("refused requests reached the agent: %d calls", asked.calls)
	}
}

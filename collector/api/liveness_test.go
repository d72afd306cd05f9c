package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestSnapshotNotAnswering: an agent whose connection is open but silent
// gets a 504 that says so, and since when, not the deadline's message.
func TestSnapshotNotAnswering(t *testing.T) {
	e := newImportEnv(t)
	silent := &ingest.NotAnsweringError{Agent: "enrolled", Silent: 7200 * time.Millisecond}
	asked := &askedAgents{err: fmt.Errorf("asking: %w", silent)}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler)}).Handler()
	req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(`{"timeout":"30s"}`))
	req.Header.Set("Authorization", "Bearer "+importKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if body := rec.Body.String(); rec.Code != http.StatusGatewayTimeout || !strings.Contains(body, "is not answering (last heard 7 s ago)") {
		t.Errorf("HTTP %d %s, want 504 saying the agent is not answering, last heard 7 s ago", rec.Code, body)
	}
}

// TestSnapshotOverBudget: an agent that refuses a request over its
// on-demand budget makes the API answer 429, with the agent's Retry-After
// (whole seconds, rounded up) and its words, and the stored snapshot to use
// meanwhile; "fresh" in the request reaches the agent.
func TestSnapshotOverBudget(t *testing.T) {
	e := newImportEnv(t)
	id := e.deliver(t, "enrolled", 7, time.Now().Add(-12*time.Second))
	refusal := &protocol.Error{Code: protocol.CodeTooMany, RequestID: "r1", RetryAfter: 40_500,
		Message: "the agent is protecting the machine: its on-demand budget (2% of one core, 1s at once) is spent; next snapshot in 41s"}
	asked := &askedAgents{err: fmt.Errorf("agent refused: %w", refusal)}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler)}).Handler()
	req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(`{"fresh":true}`))
	req.Header.Set("Authorization", "Bearer "+importKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	want := fmt.Sprintf("agent enrolled (pc-enrolled): %s; or use the latest stored full snapshot, %d, captured 12 s ago (sonde show %d)", refusal.Message, id, id)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "41" || !strings.Contains(body, want) {
		t.Errorf("HTTP %d, Retry-After %q, %s; want 429, 41, %q", rec.Code, rec.Header().Get("Retry-After"), body, want)
	}
	if !asked.freshRun {
		t.Error(`"fresh" did not reach the agent's request`)
	}
}

// TestSnapshotOnBattery: an agent that holds heavy probes back on a low
// battery makes the API answer as over its budget: 429, the agent's
// Retry-After and words (which name --user-agreed), and the stored
// snapshot to use meanwhile; "user_agreed" in the request reaches the
// agent, and its absence does not.
func TestSnapshotOnBattery(t *testing.T) {
	e := newImportEnv(t)
	id := e.deliver(t, "enrolled", 7, time.Now().Add(-12*time.Second))
	refusal := &protocol.Error{Code: protocol.CodeTooMany, RequestID: "r1", RetryAfter: 300_000,
		Message: "the machine is on battery at 14 %; heavy probes wait until it charges or is at 20 % or more, unless the user agrees: sonde snapshot --user-agreed"}
	asked := &askedAgents{err: fmt.Errorf("agent refused: %w", refusal)}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler)}).Handler()
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+importKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := post(`{"probes":["logs"]}`)
	want := fmt.Sprintf("agent enrolled (pc-enrolled): %s; or use the latest stored full snapshot, %d", refusal.Message, id)
	if body := rec.Body.String(); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "300" || !strings.Contains(body, want) {
		t.Errorf("HTTP %d, Retry-After %q, %s; want 429, 300, %q", rec.Code, rec.Header().Get("Retry-After"), body, want)
	}
	if asked.userAgreed {
		t.Error("a request without user_agreed reached the agent as agreed")
	}
	asked.err = nil
	post(`{"probes":["logs"],"user_agreed":true}`)
	if !asked.userAgreed {
		t.Error(`"user_agreed" did not reach the agent's request`)
	}
}

// TestSnapshotsPerAgentLimited: one machine is asked for at most
// agentBurst snapshots at once, from all keys together; past that the API
// answers 429 with a Retry-After before asking the agent.
func TestSnapshotsPerAgentLimited(t *testing.T) {
	e := newImportEnv(t)
	const other = "sonde_second_key_for_the_same_machine"
	if err := e.st.CreateAPIKey(t.Context(), store.APIKey{ID: "l2b", Name: "l2b", Role: store.RoleL2, CreatedAt: time.Now()}, api.HashKey(other)); err != nil {
		t.Fatal(err)
	}
	asked := &askedAgents{}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler)}).Handler()
	codes := map[int]int{}
	var refused *httptest.ResponseRecorder
	start := time.Now()
	for i := range 30 {
		key := importKey
		if i%2 == 1 {
			key = other
		}
		req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		codes[rec.Code]++
		if rec.Code == http.StatusTooManyRequests && refused == nil {
			refused = rec
		}
	}
	// The agent is offline here (503): what matters is how many were
	// asked: the burst, and what the rate refilled while the loop ran.
	most := 20 + int(time.Since(start).Seconds()*2)
	if asked.calls < 20 || asked.calls > most || codes[http.StatusServiceUnavailable] != asked.calls || codes[http.StatusTooManyRequests] != 30-asked.calls {
		t.Fatalf("agent asked %d times, answers %v; want 20 to %d asked (503 each), the rest refused with 429", asked.calls, codes, most)
	}
	if body := refused.Body.String(); refused.Header().Get("Retry-After") != "1" || !strings.Contains(body, "is being asked for more than 2 snapshots a second, from all keys together") {
		t.Errorf("Retry-After %q, %s", refused.Header().Get("Retry-After"), body)
	}
}

// TestSharedWhenAskedTooOften: past the per-agent limit, a request that
// does not ask for a fresh run is answered with the snapshot the agent
// took for another request moments before, marked shared, when that one
// holds every probe asked for; otherwise it is refused.
func TestSharedWhenAskedTooOften(t *testing.T) {
	e := newImportEnv(t)
	if err := e.st.SeenAgent(t.Context(), store.Agent{ID: "enrolled", Facts: protocol.Facts{Hostname: "pc-enrolled", HostID: "host-enrolled"},
		Probes: []string{"cpu", "memory"}, LastSeen: time.Now()}); err != nil {
		t.Fatal(err)
	}
	id, _, err := e.st.PutSnapshot(t.Context(), &store.Snapshot{Document: protocol.Document{
		// 8 s old: the agent may answer from a run it took up to 5 s
		// before, so a snapshot stored now can be that old already.
		AgentID: "enrolled", BootEpoch: 1, Seq: 1, Kind: "full", RequestID: "rq-other", CapturedAt: time.Now().Add(-8 * time.Second),
		Probes: []protocol.ProbeJSON{{Name: "memory", Data: json.RawMessage(`{"total":8589934592}`)}},
	}, ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	h := (&api.API{Store: e.st, Agents: &askedAgents{}, Log: slog.New(slog.DiscardHandler)}).Handler()
	ask := func(body string) (int, string) {
		req := httptest.NewRequest("POST", "/api/v1/agents/enrolled/snapshots", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+importKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for range 25 { // past the limit, however fast the machine
		ask(`{"probes":["cpu"]}`)
	}
	want := fmt.Sprintf(`"id": %d`, id)
	for _, c := range []struct {
		body   string
		code   int
		shared bool
	}{
		{`{}`, http.StatusCreated, true},
		{`{"probes":["memory"]}`, http.StatusCreated, true},
		{`{"probes":["cpu"]}`, http.StatusTooManyRequests, false},
		{`{"fresh":true}`, http.StatusTooManyRequests, false},
	} {
		code, body := ask(c.body)
		if code != c.code || c.shared != (strings.Contains(body, `"shared": true`) && strings.Contains(body, want)) {
			t.Errorf("%s: HTTP %d %s; want %d, shared %v", c.body, code, body, c.code, c.shared)
		}
	}
}

package api_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
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

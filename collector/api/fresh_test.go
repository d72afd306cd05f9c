package api_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/api"
)

// TestBundleAsksForConnectivityCheck: the snapshot a bundle asks for checks
// connectivity afresh (a fresh handshake beside the agent's connection); an
// ordinary on-demand snapshot does not, and the agent reports the
// connection it holds.
func TestBundleAsksForConnectivityCheck(t *testing.T) {
	e := newImportEnv(t)
	asked := &askedAgents{}
	h := (&api.API{Store: e.st, Agents: asked, Log: slog.New(slog.DiscardHandler),
		Bundles: api.Bundler{Dir: e.dir, Key: e.key, KB: e.kb}}).Handler()
	post := func(path, body string) {
		t.Helper()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+importKey)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	post("/api/v1/agents/enrolled/snapshots", `{}`)
	if asked.calls != 1 || asked.fresh {
		t.Errorf("an on-demand snapshot: %d calls, connectivity check %v; want 1 call without", asked.calls, asked.fresh)
	}
	post("/api/v1/tickets/T-1/bundles", `{"agent":"enrolled"}`)
	if asked.calls != 2 || !asked.fresh {
		t.Errorf("a bundle: %d calls, connectivity check %v; want a second call with one", asked.calls, asked.fresh)
	}
}

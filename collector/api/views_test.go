package api_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// fleet is an API over a real store with one key per role and agent a1,
// whose one full snapshot has a full disk and a failed service.
func fleet(t *testing.T) http.Handler {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, role := range []string{store.RoleL1, store.RoleL2} {
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: role, Name: role, Role: role, CreatedAt: time.Now()}, api.HashKey("sonde_test_"+role)); err != nil {
			t.Fatal(err)
		}
	}
	apitest.PutFixture(t, st, "a1")
	_, key, _ := ed25519.GenerateKey(nil)
	return (&api.API{Store: st, Agents: apitest.Offline{}, Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}).Handler()
}

func do(t *testing.T, h http.Handler, role, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sonde_test_"+role)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestL1OpensAtL1: an L1 key may not open a ticket above its tier, by any
// door; it escalates instead, which the KPIs count.
func TestL1OpensAtL1(t *testing.T) {
	h := fleet(t)
	for tier, want := range map[string]int{"l2": 403, "l3": 403, "L2": 403, "l1": 201, "": 201} {
		code, body := do(t, h, "l1", "POST", "/api/v1/tickets", `{"title":"x","tier":"`+tier+`"}`)
		if code != want {
			t.Errorf("L1 opening at %q: HTTP %d, want %d: %s", tier, code, want, body)
		}
		if code == 201 && !strings.Contains(body, `"tier": "l1"`) {
			t.Errorf("L1's ticket is not at L1: %s", body)
		}
	}
}

// TestL1SeesNoEvidence: the ticket view and the agent view show L1 the
// findings' titles and plain steps, never the evidence values, the
// knowledge base's steps for L2 or the bundles' download; L2 sees
// everything.
func TestL1SeesNoEvidence(t *testing.T) {
	h := fleet(t)
	if code, body := do(t, h, "l1", "POST", "/api/v1/tickets", `{"ref":"INC-1","title":"disk","agents":["a1"]}`); code != 201 {
		t.Fatalf("open: %d %s", code, body)
	}
	if code, body := do(t, h, "l1", "POST", "/api/v1/tickets/INC-1/bundles", `{"agent":"a1"}`); code != 201 || strings.Contains(body, "/download") {
		t.Fatalf("L1 attaching a bundle to its ticket: %d %s", code, body)
	}
	for _, path := range []string{"/api/v1/tickets/INC-1", "/api/v1/agents/a1"} {
		_, l1 := do(t, h, "l1", "GET", path, "")
		_, l2 := do(t, h, "l2", "GET", path, "")
		for _, want := range []string{"disk.almost-full", "user_explanation", `"steps"`} {
			if !strings.Contains(l1, want) {
				t.Errorf("L1's %s lacks %s:\n%s", path, want, l1)
			}
		}
		for _, l2only := range []string{`"evidence"`, `"explanation"`, `"l2_steps"`, `/download"`} {
			if strings.Contains(l1, l2only) {
				t.Errorf("L1's %s shows %s:\n%s", path, l2only, l1)
			}
		}
		if !strings.Contains(l2, `"evidence"`) || !strings.Contains(l2, `"l2_steps"`) {
			t.Errorf("L2's %s lacks the evidence or the knowledge base's steps for L2:\n%s", path, l2)
		}
	}
	if _, l2 := do(t, h, "l2", "GET", "/api/v1/tickets/INC-1", ""); !strings.Contains(l2, `/download"`) {
		t.Errorf("L2's ticket has no bundle download:\n%s", l2)
	}
}

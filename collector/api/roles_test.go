package api_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

// policy is who may call what: the least role of every route. A route
// missing here fails TestRoutesHavePolicy.
var policy = map[string]string{
	"GET /api/v1/agents":                    store.RoleL1,
	"GET /api/v1/agents/{agent}":            store.RoleL1,
	"POST /api/v1/agents/{agent}/snapshots": store.RoleL2,
	"GET /api/v1/agents/{agent}/snapshots":  store.RoleL2,
	"GET /api/v1/snapshots/{id}":            store.RoleL2,
	"GET /api/v1/agents/{agent}/diff":       store.RoleL2,
	"GET /api/v1/audit":                     store.RoleAdmin,
	"POST /api/v1/tickets/{ref}/bundles":    store.RoleL2,
	"GET /api/v1/bundles/{id}/download":     store.RoleL2,
	"GET /api/v1/bundle-key":                store.RoleL1,
	"POST /api/v1/tickets/{ref}/import":     store.RoleL2,
	"POST /api/v1/tickets":                  store.RoleL1,
	"GET /api/v1/tickets":                   store.RoleL1,
	"GET /api/v1/tickets/{ref}":             store.RoleL1,
	"POST /api/v1/tickets/{ref}/actions":    store.RoleL1, // and per action, see TestTicketActionRoles
	"GET /api/v1/alerts":                    store.RoleL1,
	"GET /api/v1/silences":                  store.RoleL2,
	"POST /api/v1/silences":                 store.RoleL2,
	"DELETE /api/v1/silences/{id}":          store.RoleL2,
}

// TestRoutesHavePolicy reads the package's route table from its source, so
// that a new endpoint cannot ship without a decision on who may call it.
func TestRoutesHavePolicy(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`mux\.Handle\("([A-Z]+ /api/[^"]+)", a\.auth\(store\.Role(\w+)`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "mux.Handle(\"") && !re.Match(src) && strings.Contains(string(src), "/api/v1") {
			t.Errorf("%s registers routes this test cannot read", f)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			found++
			want, ok := policy[m[1]]
			if !ok {
				t.Errorf("%s: route %s has no entry in the role policy", f, m[1])
			} else if strings.ToLower(m[2]) != want {
				t.Errorf("%s: route %s needs role %s in code, %s in the policy", f, m[1], strings.ToLower(m[2]), want)
			}
		}
	}
	if found != len(policy) {
		t.Errorf("found %d routes in the code, the policy has %d", found, len(policy))
	}
}

type offline struct{}

func (offline) Connected() map[string]time.Time { return map[string]time.Time{} }
func (offline) RequestSnapshot(context.Context, string, []string) (int64, error) {
	return 0, ingest.ErrOffline
}

func setup(t *testing.T) (http.Handler, map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := map[string]string{}
	for _, role := range []string{store.RoleL1, store.RoleL2, store.RoleL3, store.RoleAdmin} {
		keys[role] = "sonde_test_" + role
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: role, Name: role, Role: role, CreatedAt: time.Now()}, api.HashKey(keys[role])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddAgent(ctx, store.Agent{ID: "ag1", Facts: protocol.Facts{Hostname: "pc1"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTicket(ctx, ticket.Ticket{Ref: "T-1", Title: "t", Tier: "l2", Status: ticket.New, Agents: []string{}},
		ticket.Event{At: time.Now(), Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: offline{}, Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}
	return a.Handler(), keys
}

func call(h http.Handler, method, path, key, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestRoleMatrix calls every endpoint with every role: below the policy's
// role the answer is 403 (401 without a valid key), at or above it never
// is. No unexpected success.
func TestRoleMatrix(t *testing.T) {
	h, keys := setup(t)
	concrete := strings.NewReplacer("{agent}", "ag1", "{id}", "1", "{ref}", "T-1")
	bodies := map[string]string{
		"POST /api/v1/tickets":               `{"title":"x"}`,
		"POST /api/v1/tickets/{ref}/actions": `{"action":"note","text":"x"}`,
		"POST /api/v1/tickets/{ref}/bundles": `{"agent":"ag1"}`,
		"POST /api/v1/tickets/{ref}/import":  `{}`,
	}
	for route, least := range policy {
		method, path, _ := strings.Cut(route, " ")
		path = concrete.Replace(path)
		for _, key := range []string{"", "sonde_not_a_key"} {
			if code := call(h, method, path, key, bodies[route]); code != http.StatusUnauthorized {
				t.Errorf("%s with key %q: HTTP %d, want 401", route, key, code)
			}
		}
		for _, role := range []string{store.RoleL1, store.RoleL2, store.RoleL3, store.RoleAdmin} {
			code := call(h, method, path, keys[role], bodies[route])
			allowed := store.RoleRank(role) >= store.RoleRank(least)
			if !allowed && code != http.StatusForbidden {
				t.Errorf("%s as %s: HTTP %d, want 403", route, role, code)
			}
			if allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized) {
				t.Errorf("%s as %s: HTTP %d, want access", route, role, code)
			}
		}
	}
}

// TestTicketActionRoles: L1 may note and hand up to L2; working, closing
// and escalating to L3 take L2.
func TestTicketActionRoles(t *testing.T) {
	h, keys := setup(t)
	for _, c := range []struct {
		body string
		l1   int
	}{
		{`{"action":"note","text":"user called again"}`, http.StatusOK},
		{`{"action":"escalate","to":"l3"}`, http.StatusForbidden},
		{`{"action":"assign","assignee":"bob"}`, http.StatusForbidden},
		{`{"action":"resolve"}`, http.StatusForbidden},
		{`{"action":"close"}`, http.StatusForbidden},
	} {
		if code := call(h, "POST", "/api/v1/tickets/T-1/actions", keys[store.RoleL1], c.body); code != c.l1 {
			t.Errorf("l1 %s: HTTP %d, want %d", c.body, code, c.l1)
		}
	}
	if code := call(h, "POST", "/api/v1/tickets/T-1/actions", keys[store.RoleL2], `{"action":"close"}`); code != http.StatusOK {
		t.Errorf("l2 close: HTTP %d", code)
	}
}

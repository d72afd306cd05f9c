package access_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/collector/ui"
	"github.com/sondehq/sonde/protocol"
)

// door is one route of the API or handler of the UI: the operation it
// calls, a concrete request, and the status it answers a caller who may.
type door struct {
	op     string // the access.Op variable's name; "" for public pages
	method string
	path   string
	body   string // JSON for the API, a form for the UI
	ok     int
	action string // the audit entry's action when not the op's name
	result string // the audit entry's result when the status does not tell
}

// ops names the operations as the route tables name them.
var ops = map[string]access.Op{
	"WhoAmI": access.WhoAmI, "ListAgents": access.ListAgents, "ReadAgent": access.ReadAgent,
	"TakeSnapshot": access.TakeSnapshot, "ListSnapshots": access.ListSnapshots, "ReadSnapshot": access.ReadSnapshot,
	"ReadDiff": access.ReadDiff, "ReadAudit": access.ReadAudit, "BuildBundle": access.BuildBundle,
	"DownloadBundle": access.DownloadBundle, "ReadBundleKey": access.ReadBundleKey, "Import": access.Import,
	"OpenTicket": access.OpenTicket, "ListTickets": access.ListTickets, "ReadTicket": access.ReadTicket,
	"ActOnTicket": access.ActOnTicket, "ListAlerts": access.ListAlerts, "ListSilences": access.ListSilences,
	"AddSilence": access.AddSilence, "ExpireSilence": access.ExpireSilence,
}

// apiDoors and uiDoors are every route; a route missing here fails
// TestEveryDoorIsInTheTable. The environment (see setup) has agent ag1
// (offline, two full snapshots 1 and 2), ticket T-1 at L1 opened by the
// L1 key and naming ag1, bundle 1 on it, and silence s1.
var apiDoors = map[string]door{
	"GET /api/v1/me":                        {op: "WhoAmI", ok: 200},
	"GET /api/v1/agents":                    {op: "ListAgents", ok: 200},
	"GET /api/v1/agents/{agent}":            {op: "ReadAgent", ok: 200},
	"POST /api/v1/agents/{agent}/snapshots": {op: "TakeSnapshot", ok: 503}, // offline
	"GET /api/v1/agents/{agent}/snapshots":  {op: "ListSnapshots", ok: 200},
	"GET /api/v1/snapshots/{id}":            {op: "ReadSnapshot", ok: 200},
	"GET /api/v1/agents/{agent}/diff":       {op: "ReadDiff", ok: 200},
	"GET /api/v1/audit":                     {op: "ReadAudit", ok: 200},
	"POST /api/v1/tickets/{ref}/bundles":    {op: "BuildBundle", ok: 201, body: `{"agent":"ag1"}`},
	"GET /api/v1/bundles/{id}/download":     {op: "DownloadBundle", ok: 200},
	"GET /api/v1/bundle-key":                {op: "ReadBundleKey", ok: 200},
	"POST /api/v1/tickets/{ref}/import":     {op: "Import", ok: 400, body: `{}`},
	"POST /api/v1/tickets":                  {op: "OpenTicket", ok: 201, body: `{"title":"x","tier":"l1"}`},
	"GET /api/v1/tickets":                   {op: "ListTickets", ok: 200},
	"GET /api/v1/tickets/{ref}":             {op: "ReadTicket", ok: 200},
	"POST /api/v1/tickets/{ref}/actions":    {op: "ActOnTicket", ok: 200, body: `{"action":"note","text":"x"}`, action: "ticket.note"},
	"GET /api/v1/alerts":                    {op: "ListAlerts", ok: 200},
	"GET /api/v1/silences":                  {op: "ListSilences", ok: 200},
	"POST /api/v1/silences":                 {op: "AddSilence", ok: 201, body: `{"matchers":"alertname=X","duration":"1h"}`},
	"DELETE /api/v1/silences/{id}":          {op: "ExpireSilence", ok: 204},
}

var uiDoors = map[string]door{
	"GET /static/":               {path: "/static/style.css", ok: 200},
	"GET /login":                 {ok: 200},
	"POST /login":                {ok: 401, body: "key=nope"},
	"POST /logout":               {ok: 303},
	"GET /{$}":                   {op: "ListAgents", path: "/", ok: 200},
	"GET /agents/{id}":           {op: "ReadAgent", path: "/agents/ag1", ok: 200},
	"POST /agents/{id}/snapshot": {op: "TakeSnapshot", path: "/agents/ag1/snapshot", ok: 303, result: "failed (503)"},
	"POST /agents/{id}/bundle":   {op: "BuildBundle", path: "/agents/ag1/bundle", ok: 303, body: "ticket=T-1"},
	"GET /agents/{id}/diff":      {op: "ReadDiff", path: "/agents/ag1/diff", ok: 200},
	"GET /tickets":               {op: "ListTickets", ok: 200},
	"POST /tickets":              {op: "OpenTicket", ok: 303, body: "title=x&tier=l1"},
	"GET /tickets/{ref}":         {op: "ReadTicket", ok: 200},
	"POST /tickets/{ref}/action": {op: "ActOnTicket", ok: 303, body: "action=note&text=x", action: "ticket.note"},
	"GET /bundles/{id}/download": {op: "DownloadBundle", ok: 200},
	"GET /alerts":                {op: "ListAlerts", ok: 200},
	"POST /alerts/silences":      {op: "AddSilence", ok: 303, body: "matchers=alertname%3DX&duration=1h"},
	"/":                          {op: "WhoAmI", method: "GET", path: "/no/such/page", ok: 404},
}

// routes reads the route tables from a package's source: a route added
// there without a row here fails the test.
func routes(t *testing.T, dir string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`mux\.Handle(?:Func)?\("([^"]+)",\s*(?:[au]\.auth\(access\.(\w+))?`)
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	found := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = m[2]
		}
	}
	return found
}

func TestEveryDoorIsInTheTable(t *testing.T) {
	for _, c := range []struct {
		dir   string
		table map[string]door
	}{{"../api", apiDoors}, {"../ui", uiDoors}} {
		found := routes(t, c.dir)
		for route, op := range found {
			if route == "GET /livez" || route == "GET /readyz" || route == "/api/" {
				continue // health and the API's own 404, no caller
			}
			if route == "POST /api/v1/helpdesks/{name}/webhook" {
				continue // no API key: the helpdesk's signature (courier.TestWebhook)
			}
			d, ok := c.table[route]
			switch {
			case !ok:
				t.Errorf("%s: route %q has no row in the doors table", c.dir, route)
			case d.op != op:
				t.Errorf("%s: route %q calls access.%s in code, %q in the table", c.dir, route, op, d.op)
			case op != "" && ops[op].Name == "":
				t.Errorf("%s: route %q: access.%s is missing from the test's ops", c.dir, route, op)
			}
		}
		for route := range c.table {
			if _, ok := found[route]; !ok {
				t.Errorf("%s: the table has %q, which the code does not register", c.dir, route)
			}
		}
	}
}

var roles = []string{store.RoleL1, store.RoleL2, store.RoleL3, store.RoleAdmin}

type env struct {
	st  *sqlite.Store
	api http.Handler
	ui  http.Handler
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, role := range roles {
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: "k" + role, Name: role, Role: role, CreatedAt: time.Now()}, api.HashKey("sonde_test_"+role)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddAgent(ctx, store.Agent{ID: "ag1", Facts: protocol.Facts{Hostname: "pc1", OS: "linux"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for seq := range uint64(2) {
		doc := protocol.Document{AgentID: "ag1", BootEpoch: 1, Seq: seq + 1, Kind: "full", CapturedAt: time.Now().Add(time.Duration(seq-2) * time.Minute).UTC()}
		if _, _, err := st.PutSnapshot(ctx, &store.Snapshot{Document: doc, ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateTicket(ctx, ticket.Ticket{Ref: "T-1", Title: "t", Tier: ticket.L1, Status: ticket.New, CreatedBy: store.RoleL1, Agents: []string{"ag1"}},
		ticket.Event{At: time.Now(), Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &api.API{Store: st, Agents: apitest.Offline{}, Log: log, Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}
	admin := api.WithKey(ctx, store.APIKey{Name: "setup", Role: store.RoleAdmin})
	tk, _ := st.Ticket(ctx, "T-1")
	ag, _ := st.Agent(ctx, "ag1")
	if _, err := a.BuildBundle(admin, tk, ag, false, false, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSilence(ctx, alert.Silence{ID: "s1", Matchers: []alert.Matcher{{Name: "alertname", Value: "X"}}, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), CreatedBy: "setup"}); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, api: a.Handler(), ui: ui.New(a, log)}
}

// audited returns the entries written since the first n.
func (e *env) audited(t *testing.T, n int) []store.AuditEntry {
	t.Helper()
	all, _, err := e.st.AuditLog(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	return all[:len(all)-n] // newest first
}

var concrete = strings.NewReplacer("{agent}", "ag1", "{id}", "1", "{ref}", "T-1", "{$}", "")

func (d door) request(route string) (method, path string) {
	method, path, ok := strings.Cut(route, " ")
	if !ok {
		method, path = d.method, route
	}
	if d.path != "" {
		path = d.path
	}
	if route == "DELETE /api/v1/silences/{id}" {
		path = "/api/v1/silences/s1"
	}
	return method, concrete.Replace(path)
}

// login returns the session cookie of a UI login with key.
func (e *env) login(t *testing.T, key string) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("POST", "http://sonde.test/login", strings.NewReader(url.Values{"key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://sonde.test")
	rec := httptest.NewRecorder()
	e.ui.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sonde_session" {
			return c
		}
	}
	t.Fatalf("login with %s: HTTP %d, no session", key, rec.Code)
	return nil
}

// TestDoors calls every route of the API and every handler of the UI as
// each caller — none, a wrong key, L1, L2, L3, admin — and checks the
// status and the audit entry the call leaves: an audited operation leaves
// exactly one entry (refusals too) naming the caller, its role, the
// operation, the door and the result; anything else leaves none.
func TestDoors(t *testing.T) {
	for _, side := range []struct {
		name  string
		doors map[string]door
	}{{"api", apiDoors}, {"ui", uiDoors}} {
		for route, d := range side.doors {
			for _, who := range append([]string{"none", "wrong"}, roles...) {
				t.Run(side.name+" "+route+" as "+who, func(t *testing.T) {
					t.Parallel()
					e := setup(t)
					before := len(e.audited(t, 0))
					method, path := d.request(route)
					req := httptest.NewRequest(method, "http://sonde.test"+path, strings.NewReader(d.body))
					h := e.api
					if side.name == "ui" {
						h = e.ui
						req.Header.Set("Origin", "http://sonde.test")
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						switch {
						case d.op == "" || who == "none":
						case who == "wrong":
							req.AddCookie(&http.Cookie{Name: "sonde_session", Value: "forged"})
						default:
							req.AddCookie(e.login(t, "sonde_test_"+who))
						}
					} else {
						switch who {
						case "none":
						case "wrong":
							req.Header.Set("Authorization", "Bearer sonde_not_a_key")
						default:
							// The scheme's name is case-insensitive (RFC 9110).
							req.Header.Set("Authorization", "bEARER sonde_test_"+who)
						}
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					entries := e.audited(t, before)

					op, guarded := ops[d.op]
					k := store.APIKey{Name: who, Role: who}
					allowed := !guarded || access.Can(k, op)
					want := d.ok
					switch {
					case guarded && (who == "none" || who == "wrong") && side.name == "api":
						want = http.StatusUnauthorized
					case guarded && (who == "none" || who == "wrong"):
						want = http.StatusSeeOther // to the login page
					case !allowed && method != "GET" && side.name == "ui":
						want = http.StatusSeeOther // back to the form, with the reason
					case !allowed:
						want = http.StatusForbidden
					}
					if rec.Code != want {
						t.Fatalf("HTTP %d, want %d: %s", rec.Code, want, rec.Body.String())
					}
					if who == "none" || who == "wrong" || !guarded || !access.Audited(k, op) {
						if len(entries) != 0 {
							t.Fatalf("left audit entries %+v, want none", entries)
						}
						return
					}
					if len(entries) != 1 {
						t.Fatalf("left %d audit entries %+v, want 1", len(entries), entries)
					}
					got := entries[0]
					action := d.action
					if action == "" {
						action = op.Name
					}
					result := "ok"
					if !allowed {
						result = "denied"
					} else if d.result != "" {
						result = d.result
					} else if d.ok >= 400 {
						result = fmt.Sprintf("failed (%d)", d.ok)
					}
					if got.Action != action || !strings.HasPrefix(got.Detail, result) || !strings.HasSuffix(got.Detail, " via "+side.name) ||
						!strings.HasPrefix(got.Actor, who+" ("+who+", key k"+who+")") {
						t.Errorf("audit entry %+v, want action %s, result %s via %s, actor %s", got, action, result, side.name, who)
					}
				})
			}
		}
	}
}

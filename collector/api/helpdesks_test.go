package api_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sondehq/sonde/collector/api"
)

// desks are configured helpdesks as the API sees them.
type desks struct {
	names []string
	woken atomic.Int32
}

func (d *desks) Names() []string              { return d.names }
func (d *desks) Link(name, key string) string { return "https://" + name + ".example/t/" + key }
func (d *desks) Wake()                        { d.woken.Add(1) }
func (d *desks) ServeWebhook(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusTeapot)
}

// A link names a configured helpdesk (the only one by default); the
// ticket then answers to its key too, and shows where it is.
func TestLinkToHelpdesk(t *testing.T) {
	e := newImportEnv(t)
	d := &desks{}
	call := func(method, path, body string) (int, string) {
		a := &api.API{Store: e.st, Agents: noAgents{}, Log: slog.New(slog.DiscardHandler), Bundles: api.Bundler{Dir: e.dir, Key: e.key, KB: e.kb}, Helpdesks: d}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+importKey)
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return rec.Code, strings.ReplaceAll(rec.Body.String(), `": `, `":`)
	}
	if code, out := call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link","external":"1234"}`); code != 400 || !strings.Contains(out, "no helpdesk is configured") {
		t.Fatalf("link with no helpdesk: HTTP %d %s", code, out)
	}
	d.names = []string{"rt"}
	if code, out := call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link","helpdesk":"jira","external":"1234"}`); code != 400 || !strings.Contains(out, `no helpdesk named \"jira\"`) {
		t.Fatalf("link to a helpdesk not configured: HTTP %d %s", code, out)
	}
	code, out := call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link","external":"1234"}`)
	if code != 200 || !strings.Contains(out, `"helpdesk":"rt"`) || !strings.Contains(out, `"external_url":"https://rt.example/t/1234"`) || d.woken.Load() != 1 {
		t.Fatalf("link: HTTP %d %s, woken %d", code, out, d.woken.Load())
	}
	for _, ref := range []string{"1234", "rt:1234"} {
		if code, out := call("GET", "/api/v1/tickets/"+ref, ""); code != 200 || !strings.Contains(out, `"ref":"T-1"`) {
			t.Errorf("GET by the external key %s: HTTP %d %s", ref, code, out)
		}
	}
	if code, out := call("POST", "/api/v1/tickets/rt:1234/actions", `{"action":"note","text":"by key"}`); code != 200 || !strings.Contains(out, `"ref":"T-1"`) {
		t.Errorf("a note by the external key: HTTP %d %s", code, out)
	}
	if code, _ := call("GET", "/api/v1/tickets/jira:1234", ""); code != 404 {
		t.Errorf("GET jira:1234: HTTP %d; want 404", code)
	}
	d.names = []string{"rt", "redmine"}
	if code, out := call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link","open":true}`); code != 400 || !strings.Contains(out, "name the helpdesk") {
		t.Fatalf("open with two helpdesks and none named: HTTP %d %s", code, out)
	}
	code, out = call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link","helpdesk":"redmine","open":true,"queue":"it"}`)
	if code != 200 || !strings.Contains(out, `"helpdesk":"redmine"`) || strings.Contains(out, `"external"`) || !strings.Contains(out, `"queue":"it"`) {
		t.Fatalf("open in redmine: HTTP %d %s", code, out)
	}
	if code, out := call("POST", "/api/v1/tickets/T-1/actions", `{"action":"link"}`); code != 200 || strings.Contains(out, `"helpdesk"`) {
		t.Fatalf("unlink: HTTP %d %s", code, out)
	}
	if code, _ := call("POST", "/api/v1/helpdesks/rt/webhook", `{}`); code != http.StatusTeapot {
		t.Fatalf("the webhook route did not reach the courier: HTTP %d", code)
	}
}

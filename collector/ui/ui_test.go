package ui_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ui"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

type env struct {
	srv *httptest.Server
	api *httptest.Server // the JSON API on the same collector, for the CLI
	st  *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, apitest.Offline{})
}

// newEnvWith is newEnv with agents as the live side, and the API as opts
// set it.
func newEnvWith(t *testing.T, agents api.Agents, opts ...func(*api.API)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kb, err := findings.LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &api.API{Store: st, Agents: agents, Log: log, Bundles: api.Bundler{
		Dir: t.TempDir(), Key: ed25519.NewKeyFromSeed(make([]byte, 32)), KB: kb, Version: "test",
	}}
	for _, o := range opts {
		o(a)
	}
	srv := httptest.NewServer(ui.New(a, log))
	t.Cleanup(srv.Close)
	apiSrv := httptest.NewServer(a.Handler())
	t.Cleanup(apiSrv.Close)
	return &env{srv: srv, api: apiSrv, st: st}
}

// key makes an API key with the given role, named after it.
func (e *env) key(t *testing.T, role string) string {
	t.Helper()
	key := "sonde_test_" + role
	k := store.APIKey{ID: role, Name: role + "-user", Role: role, CreatedAt: time.Now()}
	if err := e.st.CreateAPIKey(context.Background(), k, api.HashKey(key)); err != nil {
		t.Fatal(err)
	}
	return key
}

// browser is a client with cookies that does not follow redirects.
func (e *env) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a browser logged in with a new key of role.
func (e *env) login(t *testing.T, role string) *http.Client {
	t.Helper()
	c := e.browser(t)
	resp, _ := e.post(t, c, "/login", url.Values{"key": {e.key(t, role)}}, e.srv.URL)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: %d", role, resp.StatusCode)
	}
	return c
}

func (e *env) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post sends a form as a browser on origin would.
func (e *env) post(t *testing.T, c *http.Client, path string, form url.Values, origin string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// submit posts a form from the site and follows the redirect, returning
// the page the browser lands on.
func (e *env) submit(t *testing.T, c *http.Client, path string, form url.Values) (string, string) {
	t.Helper()
	resp, body := e.post(t, c, path, form, e.srv.URL)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d\n%s", path, resp.StatusCode, body)
	}
	to := resp.Header.Get("Location")
	_, page := e.get(t, c, to)
	return to, page
}

func TestLoginRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.browser(t)
	for _, p := range []string{"/", "/agents/a1", "/tickets", "/tickets/INC-1", "/bundles/1/download", "/agents/a1/diff"} {
		resp, _ := e.get(t, c, p)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("GET %s without a session: %d to %q", p, resp.StatusCode, loc)
		}
	}
	resp, _ := e.post(t, c, "/tickets", url.Values{"title": {"x"}}, e.srv.URL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("POST /tickets without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.browser(t)
	resp, body := e.post(t, c, "/login", url.Values{"key": {"sonde_wrong"}}, e.srv.URL)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Unknown API key") || len(resp.Cookies()) != 0 {
		t.Fatalf("a bad key: %d, cookies %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
	key := e.key(t, "l2")
	resp, _ = e.post(t, c, "/login", url.Values{"key": {key}, "next": {"//evil.example/"}}, e.srv.URL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()
	if len(ck) != 1 || ck[0].Name != "sonde_session" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" || len(ck[0].Value) < 40 {
		t.Fatalf("session cookie: %+v", ck)
	}
	resp, body = e.get(t, c, "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "l2-user") || !strings.Contains(body, "L2") {
		t.Fatalf("agents page after login: %d\n%s", resp.StatusCode, body)
	}
	// A page asked for before logging in is where the login goes.
	c2 := e.browser(t)
	resp, _ = e.get(t, c2, "/tickets?status=new")
	if loc := resp.Header.Get("Location"); loc != "/login?next=%2Ftickets%3Fstatus%3Dnew" {
		t.Fatalf("redirect to login: %q", loc)
	}
	resp, _ = e.post(t, c2, "/login", url.Values{"key": {key}, "next": {"/tickets?status=new"}}, e.srv.URL)
	if resp.Header.Get("Location") != "/tickets?status=new" {
		t.Fatalf("login with next: %q", resp.Header.Get("Location"))
	}
	// Logging out ends the session on the server, not only in the browser.
	old := c.Jar.Cookies(mustURL(t, e.srv.URL))
	e.submit(t, c, "/logout", nil)
	replay := e.browser(t)
	replay.Jar.SetCookies(mustURL(t, e.srv.URL), old)
	if resp, _ := e.get(t, replay, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a logged-out session still works: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, "l2")
	const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	for _, p := range []string{"/login", "/", "/tickets", "/nowhere", "/static/style.css", "/agents/none"} {
		resp, _ := e.get(t, c, p)
		h := resp.Header
		if h.Get("Content-Security-Policy") != csp || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("GET %s (%d): headers %v", p, resp.StatusCode, h)
		}
	}
	if resp, _ := e.get(t, e.browser(t), "/"); resp.Header.Get("Content-Security-Policy") != csp {
		t.Error("a redirect to the login page lacks the CSP")
	}
	if resp, body := e.get(t, c, "/static/style.css"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, "body") {
		t.Errorf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, "l2")
	form := url.Values{"title": {"from elsewhere"}}
	for name, h := range map[string][2]string{
		"other origin":          {"Origin", "http://evil.example"},
		"null origin":           {"Origin", "null"},
		"other referer":         {"Referer", "http://evil.example/page"},
		"no origin, no ref":     {"", ""},
		"same host, other port": {"Origin", "http://127.0.0.1"},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/tickets", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if h[0] != "" {
			req.Header.Set(h[0], h[1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if list, _ := e.st.Tickets(context.Background(), store.TicketFilter{}); len(list) != 0 {
		t.Fatalf("a refused post opened tickets: %+v", list)
	}
	// The login form is guarded too, and a Referer from the site will do.
	req, _ := http.NewRequest("POST", e.srv.URL+"/tickets", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", e.srv.URL+"/tickets")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-site Referer: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, e.browser(t), "/login", url.Values{"key": {e.key(t, "l1")}}, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %d", resp.StatusCode)
	}
}

func TestAgentStringsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const evil = `<script>alert(1)</script>`
	ag := store.Agent{ID: "a-evil", Facts: protocol.Facts{Hostname: evil, OS: "linux", Platform: `"><img src=x onerror=alert(2)>`}, EnrolledAt: time.Now()}
	if err := e.st.AddAgent(context.Background(), ag); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	for _, p := range []string{"/", "/agents/a-evil", "/?q=script"} {
		resp, body := e.get(t, c, p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "<img") {
			t.Errorf("GET %s carries the agent's markup unescaped:\n%s", p, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the hostname escaped", p)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

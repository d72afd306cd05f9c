// Package ui is the collector's web UI for L2 engineers: agents, their
// snapshots, findings and diffs, and tickets with their bundles. Pages are
// rendered on the server with html/template, with no JavaScript at all, and
// every action goes through the operations of package api, acting as the
// API key the engineer logged in with.
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/internal/render"
)

//go:embed templates/*.html static/*
var files embed.FS

// csp lets the pages load their own stylesheet and nothing else: no script
// runs, whatever an agent manages to put in a page.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxForm bounds the body of a form post.
const maxForm = 64 << 10

// UI serves the web UI.
type UI struct {
	api      *api.API
	log      *slog.Logger
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

var _ http.Handler = (*UI)(nil)

// New returns the web UI over a's operations, to be mounted at "/" next
// to the API.
func New(a *api.API, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	if a.Bundles.KB == nil {
		a.Bundles.KB, _ = findings.LoadKB("") // the embedded defaults always load
	}
	u := &UI{api: a, log: log, sessions: newSessions(12 * time.Hour), pages: parsePages(), mux: http.NewServeMux()}
	static, _ := fs.Sub(files, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /login", u.loginPage)
	u.mux.HandleFunc("POST /login", u.login)
	u.mux.HandleFunc("POST /logout", u.logout)
	u.mux.Handle("GET /{$}", u.auth(access.ListAgents, u.agents))
	u.mux.Handle("GET /agents/{id}", u.auth(access.ReadAgent, u.agent))
	u.mux.Handle("POST /agents/{id}/snapshot", u.auth(access.TakeSnapshot, u.takeSnapshot))
	u.mux.Handle("POST /agents/{id}/bundle", u.auth(access.BuildBundle, u.attachBundle))
	u.mux.Handle("GET /agents/{id}/diff", u.auth(access.ReadDiff, u.diff))
	u.mux.Handle("GET /tickets", u.auth(access.ListTickets, u.tickets))
	u.mux.Handle("POST /tickets", u.auth(access.OpenTicket, u.openTicket))
	u.mux.Handle("GET /tickets/{ref}", u.auth(access.ReadTicket, u.ticket))
	u.mux.Handle("POST /tickets/{ref}/action", u.auth(access.ActOnTicket, u.ticketAction))
	u.mux.Handle("GET /bundles/{id}/download", u.auth(access.DownloadBundle, u.download))
	u.mux.Handle("GET /alerts", u.auth(access.ListAlerts, u.alerts))
	u.mux.Handle("POST /alerts/silences", u.auth(access.AddSilence, u.silence))
	u.mux.Handle("/", u.auth(access.WhoAmI, func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, http.StatusNotFound, "error", "Not found", "There is no page at "+r.URL.Path+".")
	}))
	return u
}

// ServeHTTP sets the security headers on every answer and refuses form
// posts from other sites before routing.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !sameOrigin(r) {
			u.render(w, r, http.StatusForbidden, "error", "Refused", "This form was not sent from a page of this site.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	u.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether a request comes from a page of this site: its
// Origin header, or its Referer when it has no Origin, names r.Host. It is
// the defence against cross-site form posts, on top of the SameSite
// cookie; a request with neither header is refused.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return false
	}
	o, err := url.Parse(src)
	return err == nil && o.Host != "" && strings.EqualFold(o.Host, r.Host)
}

// parsePages parses each page with the layout it fills.
func parsePages() map[string]*template.Template {
	names, _ := fs.Glob(files, "templates/*.html")
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", n))
	}
	return pages
}

// view is what the layout needs around a page's own data.
type view struct {
	Title string
	User  *store.APIKey
	Flash []flash
	Data  any
}

// render writes page name with status, taking the session's pending
// flash messages.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	v := view{Title: title, Data: data}
	if s := sessionFrom(r.Context()); s != nil {
		v.User = &s.user
		v.Flash = u.sessions.takeFlash(s.id)
	}
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an operation's error as a page, with its status (see
// api.Status), logging what it does not show.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := api.Status(err)
	if status == http.StatusServiceUnavailable {
		u.log.Error("UI", "path", r.URL.Path, "err", err)
	}
	u.render(w, r, status, "error", http.StatusText(status), msg)
}

// done sends the browser to another page (post, redirect, get) with a
// flash message: ok, or err's message (see api.Status) when err is set.
func (u *UI) done(w http.ResponseWriter, r *http.Request, to string, err error, ok string) {
	f := flash{Kind: "ok", Text: ok}
	if err != nil {
		status, msg := api.Status(err)
		if status == http.StatusServiceUnavailable {
			u.log.Error("UI", "path", r.URL.Path, "err", err)
		}
		f = flash{Kind: "error", Text: msg}
	}
	u.redirect(w, r, to, f)
}

// redirect sends the browser to another page with a flash message.
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, to string, f flash) {
	if s := sessionFrom(r.Context()); s != nil {
		u.sessions.addFlash(s.id, f)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

var funcs = template.FuncMap{
	"deliveryLine": api.DeliveryLine,
	"linkLine":     api.LinkLine,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	// at is a time in snapshot views: "3 days ago, 2026-12-03 14:02 UTC".
	"at": func(t time.Time) string { return render.Time(t, time.Now()) },
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return render.Ago(t, time.Now())
	},
	"bytes": size,
	"code":  code,
	"upper": strings.ToUpper,
	"human": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"join":  strings.Join,
}

// size formats a byte count in binary units (render.Bytes).
func size(n any) string {
	switch n := n.(type) {
	case int64:
		return render.Bytes(float64(n))
	case uint64:
		return render.Bytes(float64(n))
	case int:
		return render.Bytes(float64(n))
	}
	return fmt.Sprint(n)
}

// code writes text with `backquoted` parts, such as the commands in the
// knowledge base's steps for L2, as code; everything escaped.
func code(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(part))
		}
	}
	return template.HTML(b.String())
}

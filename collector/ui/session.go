package ui

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
)

// cookieName is the session cookie.
const cookieName = "sonde_session"

// session is a logged-in browser. It keeps the API key it logged in with,
// in memory only, so that every request checks the key again: a key that
// is gone, or whose role changed, takes effect at once.
type session struct {
	id      string
	key     string
	user    store.APIKey
	expires time.Time
	flash   []flash
	// drafts keep what was typed into a form whose action was refused,
	// by form, until the form is shown again.
	drafts map[string]string
}

// flash is a message for the next page a session sees.
type flash struct {
	Kind string // ok or error
	Text string
}

// sessions are the logged-in browsers, in memory: a restart logs everyone
// out, which is fine for a tool used during working hours.
type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]*session{}}
}

// create starts a session for key and drops the expired ones.
func (ss *sessions) create(key string, user store.APIKey) *session {
	b := make([]byte, 32)
	rand.Read(b)
	now := time.Now()
	s := &session{id: base64.RawURLEncoding.EncodeToString(b), key: key, user: user, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, old := range ss.m {
		if now.After(old.expires) {
			delete(ss.m, id)
		}
	}
	ss.m[s.id] = s
	return s
}

// get returns a copy of the live session with the given ID.
func (ss *sessions) get(id string) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return session{}, false
	}
	if time.Now().After(s.expires) {
		delete(ss.m, id)
		return session{}, false
	}
	return *s, true
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func (ss *sessions) addFlash(id string, f flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.m[id]; ok && len(s.flash) < 10 {
		s.flash = append(s.flash, f)
	}
}

// keepDraft keeps text typed into form for the next time it is shown.
func (ss *sessions) keepDraft(id, form, text string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.m[id]; ok && text != "" {
		if s.drafts == nil || len(s.drafts) >= 10 {
			s.drafts = map[string]string{}
		}
		s.drafts[form] = text
	}
}

// takeDraft returns and forgets what was kept for form.
func (ss *sessions) takeDraft(id, form string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return ""
	}
	d := s.drafts[form]
	delete(s.drafts, form)
	return d
}

func (ss *sessions) takeFlash(id string) []flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil
	}
	f := s.flash
	s.flash = nil
	return f
}

type sessionKey struct{}

// sessionFrom returns the session of a request that went through auth.
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// auth lets a request through when it belongs to a live session whose API
// key is still valid and may call op (see api.Guard, which also keeps the
// audit record), acting as that key through the UI door; others go to the
// login page.
func (u *UI) auth(op access.Op, h http.HandlerFunc) http.Handler {
	guarded := u.api.Guard(op, u.deny, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s session
		ok := false
		if c, err := r.Cookie(cookieName); err == nil {
			s, ok = u.sessions.get(c.Value)
		}
		if !ok {
			to := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		k, err := u.api.Authenticate(r.Context(), s.key)
		if errors.Is(err, store.ErrNotFound) {
			u.sessions.delete(s.id)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			u.fail(w, r, err)
			return
		}
		s.user = k
		ctx := context.WithValue(api.WithCaller(r.Context(), k, api.DoorUI), sessionKey{}, &s)
		guarded(w, r.WithContext(ctx))
	})
}

// deny answers a refused request: a page for a read, and for a form post
// the page it came from, with the reason and what was typed kept.
func (u *UI) deny(w http.ResponseWriter, r *http.Request, err error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		u.fail(w, r, err)
		return
	}
	u.done(w, r, back(r), err, "")
}

// back is the page a form was posted from, when it is one of this site's.
func back(r *http.Request) string {
	if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && strings.EqualFold(ref.Host, r.Host) {
		return localPath(ref.RequestURI())
	}
	return "/"
}

type loginData struct {
	Next  string
	Error string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if _, ok := u.sessions.get(c.Value); ok {
			http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	u.render(w, r, http.StatusOK, "login", "Log in", loginData{Next: localPath(r.URL.Query().Get("next"))})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := localPath(r.PostFormValue("next"))
	if key == "" {
		u.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "Enter your API key."})
		return
	}
	k, err := u.api.Authenticate(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		u.log.Info("UI login refused", "remote", r.RemoteAddr)
		u.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "Unknown API key."})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := access.Allow(k, access.WhoAmI); err != nil {
		_, msg := api.Status(err)
		u.render(w, r, http.StatusForbidden, "login", "Log in", loginData{Next: next, Error: msg})
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		u.sessions.delete(c.Value) // a new login gets a new session ID
	}
	s := u.sessions.create(key, k)
	u.log.Info("UI login", "key", k.Name, "role", k.Role, "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, Expires: s.expires,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		u.sessions.delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: -1,
	})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// localPath returns next when it is a path on this site, else "/": the
// login form must not send anyone elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

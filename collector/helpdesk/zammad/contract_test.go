package zammad

// The fake below behaves as Zammad's REST API documentation says:
//
//   - docs.zammad.org, API > Introduction (api/intro.html): the access token
//     header "Authorization: Token token={your_token}", JSON bodies with
//     Content-Type application/json, ?expand=true (named relations such as
//     "state": "new", "owner": "-"), and the search endpoint
//     GET /api/v1/tickets/search?query=... (an array of tickets; title:"..."
//     is Elasticsearch's field syntax), paginated with page and per_page.
//   - docs.zammad.org, API > Ticket (api/ticket/index.html): POST
//     /api/v1/tickets {"title", "group", "customer", "article": {...}} →
//     201 and the ticket; GET /api/v1/tickets/{id}; "customer_id":
//     "guess:{email}".
//   - docs.zammad.org, API > Ticket > Articles (api/ticket/articles.html):
//     POST /api/v1/ticket_articles, attachments inline as [{"filename",
//     "data" (base64), "mime-type"}]; GET /api/v1/ticket_articles/by_ticket/
//     {id} with each article's "attachments" [{"id", "filename", "size"}].
//   - docs.zammad.org, API > Ticket > States (api/ticket/states.html): the
//     states new, open, pending reminder, closed, merged, removed, pending
//     close and their state types.
//   - admin-docs.zammad.org, Manage > Webhook > Add and Payload
//     (manage/webhook/add.html, payload.html): X-Hub-Signature, the
//     HMAC-SHA1 of the body with the webhook's signature token; the default
//     payload {"ticket": {"id", "state", "state_id", "owner": {"login"}}}.
//
// Zammad itself has no 429; a reverse proxy in front of it does, and the
// fake answers it with Retry-After when throttled. Its 413 stands for
// nginx's client_max_body_size in front of Zammad.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

type fakeState struct{ name, typ string }

type fakeAttachment struct {
	id       int
	filename string
	sha256   string
	size     int64
}

type fakeArticle struct {
	id          int
	body        string
	contentType string
	attachments []fakeAttachment
}

type fakeTicket struct {
	id       int
	title    string
	group    string
	customer string
	stateID  int
	owner    string // login; "" is Zammad's "-"
	articles []fakeArticle
}

// fakeZammad is Zammad's REST API as its documentation describes it.
type fakeZammad struct {
	token string
	limit int64 // request bodies over this are refused 413
	srv   *httptest.Server

	mu       sync.Mutex
	throttle bool
	tickets  map[int]*fakeTicket
	states   map[int]fakeState
	next     int
	requests []string // "METHOD path" of each request, for tests of the flow
}

func newFakeZammad(t *testing.T, token string, limit int64) *fakeZammad {
	f := &fakeZammad{token: token, limit: limit, tickets: map[int]*fakeTicket{}, next: 100,
		states: map[int]fakeState{
			1: {"new", "new"}, 2: {"open", "open"}, 3: {"pending reminder", "pending reminder"},
			4: {"closed", "closed"}, 5: {"merged", "merged"}, 6: {"removed", "removed"},
			7: {"pending close", "pending action"},
		}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func zjson(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func zerror(w http.ResponseWriter, code int, msg string) {
	zjson(w, code, map[string]string{"error": msg, "error_human": msg})
}

var (
	reTicket   = regexp.MustCompile(`^/api/v1/tickets/(\d+)$`)
	reByTicket = regexp.MustCompile(`^/api/v1/ticket_articles/by_ticket/(\d+)$`)
	reState    = regexp.MustCompile(`^/api/v1/ticket_states/(\d+)$`)
	reTitleQ   = regexp.MustCompile(`^title:"((?:[^"\\]|\\.)*)"$`)
)

func (f *fakeZammad) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		zerror(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	if r.Header.Get("Authorization") != "Token token="+f.token {
		// A hostile or careless server: it echoes what it was sent.
		zerror(w, http.StatusUnauthorized, "Invalid token, got Authorization: "+r.Header.Get("Authorization"))
		return
	}
	if r.Method == http.MethodPost {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			zerror(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
		if r.ContentLength < 0 {
			zerror(w, http.StatusLengthRequired, "Content-Length required")
			return
		}
		if r.ContentLength > f.limit {
			zerror(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, f.limit)
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/api/v1/tickets":
		f.createTicket(w, r)
	case r.Method == http.MethodGet && p == "/api/v1/tickets/search":
		f.search(w, r)
	case r.Method == http.MethodGet && reTicket.MatchString(p):
		f.showTicket(w, r, reTicket.FindStringSubmatch(p)[1])
	case r.Method == http.MethodPost && p == "/api/v1/ticket_articles":
		f.createArticle(w, r)
	case r.Method == http.MethodGet && reByTicket.MatchString(p):
		f.articles(w, reByTicket.FindStringSubmatch(p)[1])
	case r.Method == http.MethodGet && reState.MatchString(p):
		f.showState(w, r, reState.FindStringSubmatch(p)[1])
	default:
		zerror(w, http.StatusNotFound, "No route matches ["+r.Method+"] "+p)
	}
}

// decode reads a JSON body, answering 413 over the limit and 422 for
// what does not parse.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		zerror(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	case err != nil:
		zerror(w, http.StatusUnprocessableEntity, "Unable to parse the request: "+err.Error())
	default:
		return true
	}
	return false
}

func (f *fakeZammad) createTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title      string `json:"title"`
		Group      string `json:"group"`
		Customer   string `json:"customer"`
		CustomerID string `json:"customer_id"`
		Article    *struct {
			Body     string `json:"body"`
			Type     string `json:"type"`
			Internal bool   `json:"internal"`
		} `json:"article"`
	}
	if !decode(w, r, &in) {
		return
	}
	switch {
	case in.Title == "":
		zerror(w, http.StatusUnprocessableEntity, "Title can't be blank")
	case in.Group != "Users" && in.Group != "2nd Level":
		zerror(w, http.StatusUnprocessableEntity, "No lookup value found for 'group': "+strconv.Quote(in.Group))
	case in.Customer == "" && !strings.HasPrefix(in.CustomerID, "guess:"):
		zerror(w, http.StatusUnprocessableEntity, "Customer can't be blank")
	case in.Article == nil || in.Article.Body == "" || in.Article.Type != "note":
		zerror(w, http.StatusUnprocessableEntity, "Need an article of type note with a body")
	default:
		f.mu.Lock()
		f.next++
		tk := &fakeTicket{id: f.next, title: in.Title, group: in.Group, customer: in.Customer + in.CustomerID, stateID: 1,
			articles: []fakeArticle{{id: f.next * 10, body: in.Article.Body, contentType: "text/plain"}}}
		f.tickets[tk.id] = tk
		f.mu.Unlock()
		zjson(w, http.StatusCreated, map[string]any{"id": tk.id, "number": strconv.Itoa(22000 + tk.id), "title": tk.title, "state_id": 1, "owner_id": 1, "group_id": 1})
	}
}

func (f *fakeZammad) search(w http.ResponseWriter, r *http.Request) {
	m := reTitleQ.FindStringSubmatch(r.URL.Query().Get("query"))
	if m == nil {
		zjson(w, http.StatusOK, []any{}) // a query Zammad does not understand finds nothing
		return
	}
	phrase := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1])
	f.mu.Lock()
	defer f.mu.Unlock()
	list := []map[string]any{}
	for _, tk := range f.tickets {
		if strings.Contains(tk.title, phrase) {
			list = append(list, f.ticketJSON(tk, r.URL.Query().Get("expand") == "true"))
		}
	}
	zjson(w, http.StatusOK, list)
}

// ticketJSON is a ticket as Zammad answers it; expanded, with names.
func (f *fakeZammad) ticketJSON(tk *fakeTicket, expand bool) map[string]any {
	m := map[string]any{"id": tk.id, "title": tk.title, "group_id": 1, "state_id": tk.stateID, "owner_id": 1, "customer_id": 10}
	if expand {
		owner := tk.owner
		if owner == "" {
			owner = "-"
		}
		m["state"], m["owner"], m["group"], m["customer"] = f.states[tk.stateID].name, owner, tk.group, tk.customer
	}
	return m
}

func (f *fakeZammad) showTicket(w http.ResponseWriter, r *http.Request, id string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	tk, ok := f.tickets[n]
	if !ok {
		zerror(w, http.StatusNotFound, "Couldn't find Ticket with 'id'="+id)
		return
	}
	zjson(w, http.StatusOK, f.ticketJSON(tk, r.URL.Query().Get("expand") == "true"))
}

func (f *fakeZammad) showState(w http.ResponseWriter, r *http.Request, id string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	s, ok := f.states[n]
	f.mu.Unlock()
	if !ok {
		zerror(w, http.StatusNotFound, "Couldn't find Ticket::State with 'id'="+id)
		return
	}
	m := map[string]any{"id": n, "name": s.name, "state_type_id": 1}
	if r.URL.Query().Get("expand") == "true" {
		m["state_type"] = s.typ
	}
	zjson(w, http.StatusOK, m)
}

// b64file is an attachment's data: decoded and hashed as it is read, and
// only its hash and size kept.
type b64file struct {
	sha  string
	size int64
}

func (b *b64file) UnmarshalJSON(raw []byte) error {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return errors.New("data must be a base64 string")
	}
	h := sha256.New()
	n, err := io.Copy(h, base64.NewDecoder(base64.StdEncoding, strings.NewReader(string(raw[1:len(raw)-1]))))
	if err != nil {
		return fmt.Errorf("data is not base64: %w", err)
	}
	b.sha, b.size = hex.EncodeToString(h.Sum(nil)), n
	return nil
}

func (f *fakeZammad) createArticle(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TicketID    int    `json:"ticket_id"`
		Body        string `json:"body"`
		ContentType string `json:"content_type"`
		Type        string `json:"type"`
		Internal    *bool  `json:"internal"`
		Attachments []struct {
			Filename string   `json:"filename"`
			Data     *b64file `json:"data"`
			Mime     string   `json:"mime-type"`
		} `json:"attachments"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Type != "note" || in.Internal == nil || !*in.Internal || (in.ContentType != "text/html" && in.ContentType != "text/plain") {
		zerror(w, http.StatusUnprocessableEntity, "Sonde's articles are internal notes of text/html or text/plain")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tk, ok := f.tickets[in.TicketID]
	if !ok {
		zerror(w, http.StatusUnprocessableEntity, "No lookup value found for 'ticket_id'")
		return
	}
	a := fakeArticle{id: in.TicketID*10 + len(tk.articles), body: in.Body, contentType: in.ContentType}
	for i, at := range in.Attachments {
		if at.Filename == "" || at.Data == nil || at.Mime == "" {
			zerror(w, http.StatusUnprocessableEntity, "Attachment needs filename, data and mime-type")
			return
		}
		a.attachments = append(a.attachments, fakeAttachment{id: a.id*10 + i, filename: at.Filename, sha256: at.Data.sha, size: at.Data.size})
	}
	tk.articles = append(tk.articles, a)
	zjson(w, http.StatusCreated, map[string]any{"id": a.id, "ticket_id": tk.id, "body": a.body, "type": "note", "internal": true})
}

func (f *fakeZammad) articles(w http.ResponseWriter, id string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	tk, ok := f.tickets[n]
	if !ok {
		zerror(w, http.StatusNotFound, "Couldn't find Ticket with 'id'="+id)
		return
	}
	list := []map[string]any{}
	for _, a := range tk.articles {
		atts := []map[string]any{}
		for _, at := range a.attachments {
			atts = append(atts, map[string]any{"id": at.id, "filename": at.filename, "size": strconv.FormatInt(at.size, 10), "preferences": map[string]string{"Mime-Type": "application/zip"}})
		}
		list = append(list, map[string]any{"id": a.id, "ticket_id": n, "body": a.body, "content_type": a.contentType, "type": "note", "internal": true, "attachments": atts})
	}
	zjson(w, http.StatusOK, list)
}

// The helpdesktest.Backend side.

func (f *fakeZammad) ticket(key string) *fakeTicket {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tickets[n]
}

func (f *fakeZammad) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(key)
	if tk := f.tickets[n]; tk != nil {
		for _, a := range tk.articles {
			for _, at := range a.attachments {
				if at.filename == name {
					return at.sha256, true
				}
			}
		}
	}
	return "", false
}

func (f *fakeZammad) Comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(key)
	var out []string
	if tk := f.tickets[n]; tk != nil {
		for _, a := range tk.articles {
			out = append(out, a.body)
		}
	}
	return out
}

func (f *fakeZammad) Resolve(key, assignee string) { f.setState(key, 4, assignee) }

func (f *fakeZammad) setState(key string, stateID int, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(key)
	if tk := f.tickets[n]; tk != nil {
		tk.stateID, tk.owner = stateID, owner
	}
}

func (f *fakeZammad) Throttle() {
	f.mu.Lock()
	f.throttle = true
	f.mu.Unlock()
}

// count is how many requests the fake has had.
func (f *fakeZammad) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

var _ helpdesktest.Backend = (*fakeZammad)(nil)

const testToken = "zammad-token-0123456789"

func settings(url string) helpdesk.Settings {
	return helpdesk.Settings{Config: helpdesk.Config{Name: "zd", Kind: "zammad", URL: url, MaxUpload: 50 << 20,
		Fields: map[string]string{"customer": "it@example.com", "priority": "2 normal"}}, Secret: testToken, WebhookSecret: "zammad-hook-secret"}
}

func newConn(t *testing.T, s helpdesk.Settings) *Connector {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.(*Connector)
}

func TestConformance(t *testing.T) {
	f := newFakeZammad(t, testToken, 8<<20)
	helpdesktest.Conformance(t, newConn(t, settings(f.srv.URL)), f, 3<<20+1)
}

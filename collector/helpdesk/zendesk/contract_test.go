package zendesk

// The fake below behaves as these pages of Zendesk's documentation say
// Zendesk Support does:
//   - Authentication for API requests ({email}/token:{api_token}, Basic):
//     https://support.zendesk.com/hc/en-us/articles/4408831452954
//   - Tickets: Create Ticket (POST /api/v2/tickets), List Tickets
//     (?external_id=), Show Ticket, Update Ticket (a comment is added by
//     updating the ticket; public false makes it private):
//     https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
//   - Ticket Comments: List Comments (sort_order, attachments[].file_name):
//     https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
//   - Ticket Attachments: Upload Files (POST /api/v2/uploads?filename=, the
//     file's bytes as the body, an upload token to put in a comment's uploads):
//     https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/
//     https://developer.zendesk.com/documentation/ticketing/managing-tickets/adding-ticket-attachments-with-the-api
//   - Side-loading (?include=users):
//     https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/
//   - Search (not used for Find: "it can take up to a few minutes for new
//     tickets to be indexed"):
//     https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/
//   - Verifying webhook authenticity (base64 HMAC-SHA256 of timestamp + body):
//     https://developer.zendesk.com/documentation/webhooks/verifying/
//   - Rate limits (429 with Retry-After) and the 50 MB attachment limit
//     (413 here), as Zendesk's API and help center state them.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
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

const (
	fakeEmail = "sonde@example.com"
	fakeToken = "zd-api-token-6wiIBWbGkBMo1mRDMuVwkw"
	fakeGroup = 360001234567
)

type zAttachment struct {
	name, sha string
	size      int64
}

type zComment struct {
	body, html  string
	public      bool
	attachments []zAttachment
}

type zTicket struct {
	id                          int64
	subject, externalID, status string
	group, assignee             int64
	fields                      map[string]any
	comments                    []zComment
}

// fakeZendesk is a Zendesk account with one group.
type fakeZendesk struct {
	limit int64 // largest upload, bytes

	mu       sync.Mutex
	throttle bool
	tickets  map[int64]*zTicket
	ids      []int64
	uploads  map[string]zAttachment // by token
	posts    int                    // requests that reached the uploads endpoint
	users    map[int64]string
	sideload bool // whether Show Ticket honours include=users
	listAll  bool // whether List Tickets ignores external_id
}

func newFake(t *testing.T, limit int64) (*fakeZendesk, *httptest.Server) {
	f := &fakeZendesk{limit: limit, tickets: map[int64]*zTicket{}, uploads: map[string]zAttachment{}, users: map[int64]string{}, sideload: true}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return f, srv
}

func connect(t *testing.T, srv *httptest.Server, edit func(*helpdesk.Settings)) helpdesk.Connector {
	t.Helper()
	s := helpdesk.Settings{Config: helpdesk.Config{Name: "zd", Kind: "zendesk", URL: srv.URL, Queue: strconv.Itoa(fakeGroup), User: fakeEmail,
		Fields: map[string]string{"priority": "high", "tags": "sonde, diagnostics", "360012345": "host-7"}}, Secret: fakeToken}
	if edit != nil {
		edit(&s)
	}
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func invalid(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "RecordInvalid", "description": "Record validation errors",
		"details": map[string]any{field: []map[string]string{{"description": msg}}}})
}

func (f *fakeZendesk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "APIRateLimitExceeded"})
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != fakeEmail+"/token" || p != fakeToken {
		// Worst case for the connector: an answer that repeats what it was sent.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Couldn't authenticate you", "sent": r.Header.Get("Authorization") + " " + u + ":" + p})
		return
	}
	path := r.URL.Path
	switch {
	case path == "/api/v2/tickets.json" && r.Method == http.MethodPost:
		f.create(w, r)
	case path == "/api/v2/tickets.json" && r.Method == http.MethodGet:
		f.list(w, r)
	case path == "/api/v2/uploads.json" && r.Method == http.MethodPost:
		f.upload(w, r)
	case strings.HasPrefix(path, "/api/v2/tickets/"):
		f.ticket(w, r, strings.TrimPrefix(path, "/api/v2/tickets/"))
	case strings.HasPrefix(path, "/api/v2/users/") && r.Method == http.MethodGet:
		id, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(path, "/api/v2/users/"), ".json"), 10, 64)
		f.mu.Lock()
		name, ok := f.users[id]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "RecordNotFound", "description": "Not found"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": id, "name": name}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "InvalidEndpoint", "description": "Not found"})
	}
}

type inComment struct {
	Body     *string  `json:"body"`
	HTMLBody *string  `json:"html_body"`
	Public   *bool    `json:"public"`
	Uploads  []string `json:"uploads"`
}

type inTicket struct {
	Subject      string        `json:"subject"`
	Comment      *inComment    `json:"comment"`
	GroupID      int64         `json:"group_id"`
	ExternalID   string        `json:"external_id"`
	Priority     string        `json:"priority"`
	Tags         []string      `json:"tags"`
	CustomFields []customField `json:"custom_fields"`
}

type customField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

func readTicket(w http.ResponseWriter, r *http.Request) (*inTicket, bool) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Unsupported Media Type"})
		return nil, false
	}
	var in struct {
		Ticket *inTicket `json:"ticket"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Ticket == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Unprocessable Entity", "description": "Invalid JSON or no ticket"})
		return nil, false
	}
	return in.Ticket, true
}

var tagRule = regexp.MustCompile(`^[a-z0-9_\-/]+$`)

func (f *fakeZendesk) create(w http.ResponseWriter, r *http.Request) {
	in, ok := readTicket(w, r)
	if !ok {
		return
	}
	switch {
	case in.Comment == nil || (in.Comment.Body == nil || *in.Comment.Body == "") && (in.Comment.HTMLBody == nil || *in.Comment.HTMLBody == ""):
		invalid(w, "base", "Description: cannot be blank")
		return
	case in.GroupID != 0 && in.GroupID != fakeGroup:
		invalid(w, "group_id", "Group is invalid")
		return
	case in.Priority != "" && !strings.Contains(" low normal high urgent ", " "+in.Priority+" "):
		invalid(w, "priority", "Priority is invalid")
		return
	}
	for _, tag := range in.Tags {
		if !tagRule.MatchString(tag) {
			invalid(w, "tags", "Tag "+tag+" is invalid")
			return
		}
	}
	for _, cf := range in.CustomFields {
		if cf.ID != 360012345 {
			invalid(w, "custom_fields", "Field "+strconv.FormatInt(cf.ID, 10)+" does not exist")
			return
		}
	}
	f.mu.Lock()
	id := int64(35436 + len(f.ids))
	tk := &zTicket{id: id, subject: in.Subject, externalID: in.ExternalID, status: "new", group: in.GroupID, fields: map[string]any{"priority": in.Priority, "tags": in.Tags}}
	tk.comments = append(tk.comments, zComment{body: deref(in.Comment.Body), public: true})
	f.tickets[id] = tk
	f.ids = append(f.ids, id)
	out := f.view(tk)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": out})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (f *fakeZendesk) view(tk *zTicket) map[string]any {
	v := map[string]any{"id": tk.id, "subject": tk.subject, "external_id": tk.externalID, "status": tk.status, "assignee_id": nil, "group_id": tk.group}
	if tk.assignee != 0 {
		v["assignee_id"] = tk.assignee
	}
	return v
}

func (f *fakeZendesk) list(w http.ResponseWriter, r *http.Request) {
	ext := r.URL.Query().Get("external_id")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, id := range f.ids {
		if tk := f.tickets[id]; ext == "" || f.listAll || tk.externalID == ext {
			out = append(out, f.view(tk))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func (f *fakeZendesk) ticket(w http.ResponseWriter, r *http.Request, rest string) {
	idText, sub, _ := strings.Cut(rest, "/")
	id, _ := strconv.ParseInt(strings.TrimSuffix(idText, ".json"), 10, 64)
	f.mu.Lock()
	tk, ok := f.tickets[id]
	f.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "RecordNotFound", "description": "Not found"})
	case sub == "" && r.Method == http.MethodGet:
		f.mu.Lock()
		out := map[string]any{"ticket": f.view(tk)}
		if f.sideload && strings.Contains(r.URL.Query().Get("include"), "users") {
			users := []map[string]any{}
			if tk.assignee != 0 {
				users = append(users, map[string]any{"id": tk.assignee, "name": f.users[tk.assignee]})
			}
			out["users"] = users
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case sub == "" && r.Method == http.MethodPut:
		f.update(w, r, tk)
	case sub == "comments.json" && r.Method == http.MethodGet:
		f.comments(w, r, tk)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "Method Not Allowed"})
	}
}

var tags = regexp.MustCompile(`<[^>]*>`)

func (f *fakeZendesk) update(w http.ResponseWriter, r *http.Request, tk *zTicket) {
	in, ok := readTicket(w, r)
	if !ok {
		return
	}
	if in.Comment == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ticket": f.view(tk)})
		return
	}
	c := zComment{public: in.Comment.Public == nil || *in.Comment.Public}
	if in.Comment.HTMLBody != nil {
		c.html = *in.Comment.HTMLBody
		c.body = html.UnescapeString(tags.ReplaceAllString(c.html, " "))
	} else {
		c.body = deref(in.Comment.Body)
	}
	if strings.TrimSpace(c.body) == "" {
		invalid(w, "base", "Comment: cannot be blank")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tok := range in.Comment.Uploads {
		up, ok := f.uploads[tok]
		if !ok {
			invalid(w, "base", "Upload token "+tok+" is invalid or expired")
			return
		}
		delete(f.uploads, tok)
		c.attachments = append(c.attachments, up)
	}
	tk.comments = append(tk.comments, c)
	writeJSON(w, http.StatusOK, map[string]any{"ticket": f.view(tk), "audit": map[string]any{"events": []any{}}})
}

func (f *fakeZendesk) comments(w http.ResponseWriter, r *http.Request, tk *zTicket) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for i, c := range tk.comments {
		as := []map[string]any{}
		for _, a := range c.attachments {
			as = append(as, map[string]any{"file_name": a.name, "size": a.size, "content_type": "application/binary"})
		}
		h := c.html
		if h == "" {
			h = "<p>" + html.EscapeString(c.body) + "</p>"
		}
		out = append(out, map[string]any{"id": i + 1, "body": c.body, "html_body": h, "plain_body": c.body, "public": c.public, "attachments": as})
	}
	if r.URL.Query().Get("sort_order") == "desc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"comments": out, "next_page": nil, "count": len(out)})
}

// upload hashes the body as it arrives; it never holds it whole.
func (f *fakeZendesk) upload(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.posts++
	f.mu.Unlock()
	name := r.URL.Query().Get("filename")
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case name == "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "filename is required"})
		return
	case mt == "" || mt == "application/json" || strings.HasPrefix(mt, "multipart/"):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send the file's bytes as the body, with the file's or an application/binary type"})
		return
	case r.ContentLength < 0:
		writeJSON(w, http.StatusLengthRequired, map[string]string{"error": "Length Required"})
		return
	case r.ContentLength > f.limit:
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "Attachment is too large"})
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil || n != r.ContentLength {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "incomplete body"})
		return
	}
	f.mu.Lock()
	tok := "tok" + strconv.Itoa(f.posts)
	f.uploads[tok] = zAttachment{name: name, sha: hex.EncodeToString(h.Sum(nil)), size: n}
	f.mu.Unlock()
	att := map[string]any{"file_name": name, "size": n, "content_type": mt}
	writeJSON(w, http.StatusCreated, map[string]any{"upload": map[string]any{"token": tok, "attachment": att, "attachments": []any{att}}})
}

func (f *fakeZendesk) get(key string) *zTicket {
	id, _ := strconv.ParseInt(key, 10, 64)
	return f.tickets[id]
}

func (f *fakeZendesk) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tk := f.get(key); tk != nil {
		for _, c := range tk.comments {
			for _, a := range c.attachments {
				if a.name == name {
					return a.sha, true
				}
			}
		}
	}
	return "", false
}

func (f *fakeZendesk) Comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	if tk := f.get(key); tk != nil {
		for _, c := range tk.comments {
			if c.html != "" {
				out = append(out, c.html)
			} else {
				out = append(out, c.body)
			}
		}
	}
	return out
}

func (f *fakeZendesk) Resolve(key, assignee string) { f.setStatus(key, "solved", assignee) }

func (f *fakeZendesk) setStatus(key, status, assignee string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := f.get(key)
	tk.status, tk.assignee = status, 0
	if assignee != "" {
		tk.assignee = int64(900 + len(f.users))
		f.users[tk.assignee] = assignee
	}
}

func (f *fakeZendesk) Throttle() {
	f.mu.Lock()
	f.throttle = true
	f.mu.Unlock()
}

func TestContract(t *testing.T) {
	fake, srv := newFake(t, 50<<20)
	c := connect(t, srv, nil)
	helpdesktest.Conformance(t, c, fake, 3<<20+17)
	tk := fake.tickets[35436]
	if tk.group != fakeGroup || tk.fields["priority"] != "high" || fmt.Sprint(tk.fields["tags"]) != "[sonde diagnostics]" {
		t.Errorf("ticket group %d, fields %v", tk.group, tk.fields)
	}
	for i, cm := range tk.comments[1:] {
		if cm.public {
			t.Errorf("comment %d that Sonde added is public", i+2)
		}
	}
}

package rt

// fakeRT is Request Tracker 5.0.3's REST2 API as its documentation says
// (RT::REST2, docs.bestpractical.com/rt/5.0.3/RT/REST2.html; the same POD
// ships as lib/RT/REST2.pm in Debian's request-tracker5) and as the real
// one answered on this machine: "Authorization: token T" or Basic auth,
// else 401; JSON bodies need Content-Type application/json (else 415);
// POST /ticket needs a Queue (400) that exists (403) and answers 201 with
// the id as a string; GET /tickets?query=TicketSQL, paged (per_page at
// most 100, next_page while more); POST /ticket/N/comment takes JSON with
// a ContentType, or multipart/form-data with a JSON part and Attachments
// file parts; GET /ticket/N/attachments lists every MIME part, and fails
// with 500 when fields names Parent (a bug of 5.0.3); GET /attachment/N
// sends Content in base64; GET /ticket/N has the Owner as a user link.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type fakeRT struct {
	token, user, password string
	limit                 int64 // the largest request body; 413 past it

	mu       sync.Mutex
	base     string
	tickets  []*fakeTicket // ticket N is tickets[N-1]
	parts    []*fakePart   // attachment N is parts[N-1]
	throttle bool
	requests []string // "METHOD /path" of each authorised request
}

type fakeTicket struct {
	queue, subject, status, owner string
	body                          map[string]any // as POSTed
}

type fakePart struct {
	ticket              int
	filename, typ, text string // text: the content of a part without a file name
	sha                 string
	size                int64
}

func newFakeRT(t *testing.T) *fakeRT {
	t.Helper()
	return &fakeRT{token: "1-14-0123456789abcdef", limit: 8 << 20}
}

func (f *fakeRT) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		answer(w, http.StatusTooManyRequests, msg("Too Many Requests"))
		return
	}
	if !f.authorised(r) {
		// A real RT says only "Unauthorized"; this one echoes what it got,
		// so the tests see that no credential reaches an error's text.
		answer(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "got": r.Header.Get("Authorization")})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/REST/2.0")
	if !ok {
		answer(w, http.StatusNotFound, msg("Not Found"))
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	route := func(method, pattern string) []string {
		if r.Method != method {
			return nil
		}
		return regexp.MustCompile(`^` + pattern + `$`).FindStringSubmatch(path)
	}
	if m := route(http.MethodPost, `/ticket`); m != nil {
		f.create(w, r)
	} else if m := route(http.MethodGet, `/tickets`); m != nil {
		f.search(w, r)
	} else if m := route(http.MethodGet, `/ticket/(\d+)`); m != nil {
		f.show(w, r, m[1])
	} else if m := route(http.MethodPost, `/ticket/(\d+)/comment`); m != nil {
		f.comment(w, r, m[1])
	} else if m := route(http.MethodGet, `/ticket/(\d+)/attachments`); m != nil {
		f.attachments(w, r, m[1])
	} else if m := route(http.MethodGet, `/attachment/(\d+)`); m != nil {
		f.attachment(w, m[1])
	} else {
		answer(w, http.StatusNotFound, msg("Not Found"))
	}
}

func (f *fakeRT) authorised(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return f.user != "" && u == f.user && p == f.password
	}
	return r.Header.Get("Authorization") == "token "+f.token
}

func (f *fakeRT) create(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !readJSON(w, r, f.limit, &body) {
		return
	}
	queue, _ := body["Queue"].(string)
	subject, _ := body["Subject"].(string)
	switch {
	case queue == "":
		answer(w, http.StatusBadRequest, msg("Could not create ticket. Queue not set"))
		return
	case queue != "General":
		answer(w, http.StatusForbidden, msg("No permission to create tickets in the queue '"+queue+"'"))
		return
	case body["Content"] != nil && body["ContentType"] == nil:
		answer(w, http.StatusBadRequest, msg("ContentType is a required field for application/json"))
		return
	}
	f.mu.Lock()
	f.tickets = append(f.tickets, &fakeTicket{queue: queue, subject: subject, status: "new", body: body})
	id := len(f.tickets)
	if c, _ := body["Content"].(string); c != "" {
		f.parts = append(f.parts, &fakePart{ticket: id, typ: body["ContentType"].(string), text: c})
	}
	f.mu.Unlock()
	answer(w, http.StatusCreated, map[string]any{"id": strconv.Itoa(id), "type": "ticket", "_url": f.url("/ticket/" + strconv.Itoa(id))})
}

var subjectLike = regexp.MustCompile(`^Subject LIKE '((?:[^'\\]|\\.)*)'$`)

func (f *fakeRT) search(w http.ResponseWriter, r *http.Request) {
	m := subjectLike.FindStringSubmatch(r.URL.Query().Get("query"))
	if m == nil {
		answer(w, http.StatusBadRequest, msg("this fake knows TicketSQL of the form Subject LIKE '...' only"))
		return
	}
	like := strings.ToLower(regexp.MustCompile(`\\(.)`).ReplaceAllString(m[1], "$1"))
	f.mu.Lock()
	var items []map[string]any
	for i, t := range f.tickets {
		if strings.Contains(strings.ToLower(t.subject), like) {
			items = append(items, map[string]any{"id": strconv.Itoa(i + 1), "Subject": t.subject})
		}
	}
	f.mu.Unlock()
	f.page(w, r, items)
}

func (f *fakeRT) show(w http.ResponseWriter, r *http.Request, id string) {
	t := f.ticket(id)
	if t == nil {
		answer(w, http.StatusNotFound, msg("Not Found"))
		return
	}
	f.mu.Lock()
	owner := t.owner
	if owner == "" {
		owner = "Nobody"
	}
	link := map[string]any{"id": owner, "type": "user", "_url": f.url("/user/" + owner)}
	if r.URL.Query().Get("fields[Owner]") == "Name" {
		link["Name"] = owner
	}
	n, _ := strconv.Atoi(id)
	out := map[string]any{"id": n, "Subject": t.subject, "Status": t.status, "Owner": link, "Queue": map[string]any{"id": "1", "type": "queue"}}
	f.mu.Unlock()
	answer(w, http.StatusOK, out)
}

func (f *fakeRT) comment(w http.ResponseWriter, r *http.Request, id string) {
	n, _ := strconv.Atoi(id)
	if f.ticket(id) == nil {
		answer(w, http.StatusBadRequest, msg("Message could not be recorded"))
		return
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		var body struct{ Content, ContentType string }
		if !readJSON(w, r, f.limit, &body) {
			return
		}
		if body.ContentType == "" {
			answer(w, http.StatusBadRequest, msg("ContentType is a required field for application/json"))
			return
		}
		f.mu.Lock()
		f.parts = append(f.parts, &fakePart{ticket: n, typ: body.ContentType, text: body.Content})
		f.mu.Unlock()
		answer(w, http.StatusCreated, []string{"Comments added"})
		return
	}
	if !sized(w, r, f.limit) {
		return
	}
	if params["boundary"] == "" {
		answer(w, http.StatusBadRequest, msg("multipart without a boundary"))
		return
	}
	parts, err := readMultipart(r)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		answer(w, http.StatusRequestEntityTooLarge, msg("Request Entity Too Large"))
		return
	case err != nil:
		answer(w, http.StatusBadRequest, msg(err.Error()))
		return
	}
	f.mu.Lock()
	for _, p := range parts {
		p.ticket = n
		f.parts = append(f.parts, p)
	}
	f.mu.Unlock()
	answer(w, http.StatusCreated, []string{"Comments added"})
}

// readMultipart streams the parts: the JSON part's comment, and each
// Attachments part hashed as it arrives (never kept).
func readMultipart(r *http.Request) ([]*fakePart, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("reading multipart: %w", err)
	}
	var parts []*fakePart
	seenJSON := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading multipart: %w", err)
		}
		switch p.FormName() {
		case "JSON":
			var body struct{ Content, ContentType string }
			if err := json.NewDecoder(p).Decode(&body); err != nil {
				return nil, fmt.Errorf("the JSON part: %w", err)
			}
			if body.Content != "" && body.ContentType == "" {
				return nil, errors.New("ContentType is a required field for application/json")
			}
			seenJSON = true
			parts = append(parts, &fakePart{typ: body.ContentType, text: body.Content})
		case "Attachments":
			h := sha256.New()
			n, err := io.Copy(h, p)
			if err != nil {
				return nil, fmt.Errorf("reading an attachment: %w", err)
			}
			if p.FileName() == "" {
				return nil, errors.New("an Attachments part without a file name")
			}
			parts = append(parts, &fakePart{filename: p.FileName(), typ: p.Header.Get("Content-Type"), sha: hex.EncodeToString(h.Sum(nil)), size: n})
		default:
			return nil, fmt.Errorf("unexpected part %q", p.FormName())
		}
	}
	if !seenJSON {
		return nil, errors.New("no JSON part")
	}
	return parts, nil
}

func (f *fakeRT) attachments(w http.ResponseWriter, r *http.Request, id string) {
	fields := strings.Split(r.URL.Query().Get("fields"), ",")
	if slices.Contains(fields, "Parent") {
		answer(w, http.StatusInternalServerError, msg("Internal Server Error"))
		return
	}
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	var items []map[string]any
	for i, p := range f.parts {
		if p.ticket != n {
			continue
		}
		all := map[string]any{"Filename": p.filename, "ContentType": p.typ, "ContentLength": strconv.FormatInt(p.size+int64(len(p.text)), 10)}
		item := map[string]any{"id": strconv.Itoa(i + 1), "type": "attachment"}
		for _, k := range fields {
			if v, ok := all[k]; ok {
				item[k] = v
			}
		}
		items = append(items, item)
	}
	f.mu.Unlock()
	f.page(w, r, items)
}

// attachment answers with a comment's content; a file's bytes are not
// kept, and the connector must never download one (it may be 200 MB).
func (f *fakeRT) attachment(w http.ResponseWriter, id string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 1 || n > len(f.parts) {
		answer(w, http.StatusNotFound, msg("Not Found"))
		return
	}
	p := f.parts[n-1]
	if p.filename != "" {
		answer(w, http.StatusInternalServerError, msg("the fake keeps no file's bytes: a connector must not download files"))
		return
	}
	answer(w, http.StatusOK, map[string]any{"id": n, "ContentType": p.typ, "Content": base64.StdEncoding.EncodeToString([]byte(p.text))})
}

// page answers items as a REST2 collection, ordered by id (order=DESC
// reverses), page and per_page as RT reads them.
func (f *fakeRT) page(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	if items == nil {
		items = []map[string]any{}
	}
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 20
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	if q.Get("orderby") == "id" && q.Get("order") == "DESC" {
		slices.Reverse(items)
	}
	from := min((page-1)*per, len(items))
	to := min(from+per, len(items))
	out := map[string]any{"count": to - from, "page": page, "per_page": per, "total": len(items), "pages": float64((len(items) + per - 1) / per), "items": items[from:to]}
	if to < len(items) {
		q.Set("page", strconv.Itoa(page+1))
		out["next_page"] = f.url(strings.TrimPrefix(r.URL.Path, "/REST/2.0") + "?" + q.Encode())
	}
	answer(w, http.StatusOK, out)
}

func (f *fakeRT) ticket(id string) *fakeTicket {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 1 || n > len(f.tickets) {
		return nil
	}
	return f.tickets[n-1]
}

func (f *fakeRT) url(path string) string { return f.base + "/REST/2.0" + path }

// count is how many authorised requests went to path with method.
func (f *fakeRT) count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r == method+" "+path {
			n++
		}
	}
	return n
}

// The Backend of helpdesktest.Conformance.

func (f *fakeRT) Attachment(key, name string) (string, bool) {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.parts {
		if p.ticket == n && p.filename == name {
			return p.sha, true
		}
	}
	return "", false
}

func (f *fakeRT) Comments(key string) []string {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.parts {
		if p.ticket == n && p.filename == "" {
			out = append(out, p.text)
		}
	}
	return out
}

func (f *fakeRT) Resolve(key, assignee string) { f.set(key, "resolved", assignee) }

func (f *fakeRT) set(key, status, owner string) {
	t := f.ticket(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	t.status, t.owner = status, owner
}

func (f *fakeRT) Throttle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = true
}

// readJSON decodes a JSON body as REST2 does: 415 without the JSON
// content type, 413 over the limit.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		answer(w, http.StatusUnsupportedMediaType, msg("Unsupported Media Type"))
		return false
	}
	if !sized(w, r, limit) {
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		answer(w, http.StatusBadRequest, msg("JSON parse error"))
		return false
	}
	return true
}

// sized refuses a body of unknown length (411) and one over the limit
// (413), and bounds what is read of the rest.
func sized(w http.ResponseWriter, r *http.Request, limit int64) bool {
	switch {
	case r.ContentLength < 0:
		answer(w, http.StatusLengthRequired, msg("Length Required"))
		return false
	case r.ContentLength > limit:
		answer(w, http.StatusRequestEntityTooLarge, msg("Request Entity Too Large"))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return true
}

func msg(s string) map[string]string { return map[string]string{"message": s} }

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

package redmine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fake is a Redmine 5.0 as its REST API documentation (Rest_api,
// Rest_Issues, "Attaching files") and its source describe it: the
// X-Redmine-API-Key header, JSON bodies only with Content-Type
// application/json, issues listed open-only unless status_id says
// otherwise, subject=~ as a tokenized "contains", /uploads.json taking
// only application/octet-stream (406 else) with a length (411 when
// chunked) and answering 422 over its maximum attachment size, and
// uploads attached by token exactly once. It keeps hashes, not files.
type fake struct {
	key       string
	maxSize   int64 // Setting.attachment_max_size, in bytes
	oldStatus bool  // statuses without is_closed, as before Redmine 5.0
	srv       *httptest.Server

	mu       sync.Mutex
	issues   map[int]*fakeIssue
	uploads  map[string]fakeAttachment // by token
	throttle bool
	seen     []string // "METHOD /path" of every request
}

type fakeIssue struct {
	id, project, status int
	subject             string
	assignee            string
	fields              map[string]any // the rest of what Open sent
	notes               []string
	attachments         []fakeAttachment
}

type fakeAttachment struct{ name, typ, sha string }

// The statuses of Redmine's default data.
var fakeStatuses = []struct {
	id     int
	name   string
	closed bool
}{{1, "New", false}, {2, "In Progress", false}, {3, "Resolved", false}, {4, "Feedback", false}, {5, "Closed", true}, {6, "Rejected", true}}

var fakeProjects = map[string]int{"sonde": 1, "ops": 2}

func newFake(t *testing.T) *fake {
	f := &fake{key: "0123456789abcdef0123456789abcdef01234567", maxSize: 5 << 20, issues: map[int]*fakeIssue{}, uploads: map[string]fakeAttachment{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path)
	if f.throttle {
		f.throttle = false
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if r.Header.Get("X-Redmine-API-Key") != f.key {
		// Redmine answers 401 with no body; this one echoes the request's
		// headers to prove that errors scrub them.
		w.WriteHeader(http.StatusUnauthorized)
		_ = r.Header.Write(w)
		return
	}
	id, isIssue := issueID(r.URL.Path)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/issues.json":
		f.create(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/issues.json":
		f.list(w, r)
	case r.Method == http.MethodGet && isIssue:
		f.show(w, r, id)
	case r.Method == http.MethodPut && isIssue:
		f.update(w, r, id)
	case r.Method == http.MethodPost && r.URL.Path == "/uploads.json":
		f.upload(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/issue_statuses.json":
		var ss []map[string]any
		for _, s := range fakeStatuses {
			ss = append(ss, map[string]any{"id": s.id, "name": s.name, "is_closed": s.closed})
		}
		answer(w, http.StatusOK, map[string]any{"issue_statuses": ss})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func issueID(path string) (int, bool) {
	s, ok := strings.CutPrefix(path, "/issues/")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	n, err := strconv.Atoi(s)
	return n, ok && err == nil && n > 0
}

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, msgs ...string) {
	answer(w, http.StatusUnprocessableEntity, map[string]any{"errors": msgs})
}

// body decodes {"issue": {...}}; without application/json Rails does not
// parse it, and Redmine sees an issue with nothing set.
func body(r *http.Request) map[string]any {
	var in struct{ Issue map[string]any }
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.NewDecoder(r.Body).Decode(&in)
	}
	if in.Issue == nil {
		in.Issue = map[string]any{}
	}
	return in.Issue
}

func project(v any) (int, bool) {
	switch p := v.(type) {
	case float64:
		return int(p), p == 1 || p == 2
	case string:
		if n, err := strconv.Atoi(p); err == nil {
			return n, n == 1 || n == 2
		}
		n, ok := fakeProjects[p]
		return n, ok
	}
	return 0, false
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	in := body(r)
	subject, _ := in["subject"].(string)
	p, ok := project(in["project_id"])
	switch {
	case !ok:
		refuse(w, "Project cannot be blank")
		return
	case subject == "":
		refuse(w, "Subject cannot be blank")
		return
	case len([]rune(subject)) > 255:
		refuse(w, "Subject is too long (maximum is 255 characters)")
		return
	}
	is := &fakeIssue{id: len(f.issues) + 1, project: p, status: 1, subject: subject, fields: in}
	f.issues[is.id] = is
	answer(w, http.StatusCreated, map[string]any{"issue": f.issueJSON(is, nil)})
}

func (f *fake) issueJSON(is *fakeIssue, include map[string]bool) map[string]any {
	st := fakeStatuses[is.status-1]
	status := map[string]any{"id": st.id, "name": st.name}
	if !f.oldStatus {
		status["is_closed"] = st.closed
	}
	out := map[string]any{"id": is.id, "project": map[string]any{"id": is.project}, "subject": is.subject, "status": status}
	if is.assignee != "" {
		out["assigned_to"] = map[string]any{"id": 1, "name": is.assignee}
	}
	if include["journals"] {
		js := []map[string]any{}
		for i, n := range is.notes {
			js = append(js, map[string]any{"id": i + 1, "notes": n, "details": []any{}})
		}
		out["journals"] = js
	}
	if include["attachments"] {
		as := []map[string]any{}
		for i, a := range is.attachments {
			as = append(as, map[string]any{"id": i + 1, "filename": a.name, "content_type": a.typ, "content_url": fmt.Sprintf("%s/attachments/download/%d/%s", f.srv.URL, i+1, a.name)})
		}
		out["attachments"] = as
	}
	return out
}

func (f *fake) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := 0
	if q.Has("project_id") {
		var ok bool
		if p, ok = project(q.Get("project_id")); !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 25
	}
	ids := []int{}
	for id := range f.issues {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	issues := []map[string]any{}
	for _, id := range ids {
		is := f.issues[id]
		if p != 0 && is.project != p || !statusMatches(q.Get("status_id"), is.status) || !subjectMatches(q.Get("subject"), is.subject) || len(issues) == limit {
			continue
		}
		issues = append(issues, f.issueJSON(is, nil))
	}
	answer(w, http.StatusOK, map[string]any{"issues": issues, "total_count": len(issues), "offset": 0, "limit": limit})
}

// statusMatches is the status_id filter: open issues unless told.
func statusMatches(filter string, status int) bool {
	closed := fakeStatuses[status-1].closed
	switch filter {
	case "", "open":
		return !closed
	case "closed":
		return closed
	case "*":
		return true
	}
	return filter == strconv.Itoa(status)
}

// subjectMatches is the subject filter: "~" is "contains every word",
// case-insensitive; no operator is "equals".
func subjectMatches(filter, subject string) bool {
	if filter == "" {
		return true
	}
	words, ok := strings.CutPrefix(filter, "~")
	if !ok {
		return filter == subject
	}
	for _, w := range strings.Fields(words) {
		if !strings.Contains(strings.ToLower(subject), strings.ToLower(w)) {
			return false
		}
	}
	return true
}

func (f *fake) show(w http.ResponseWriter, r *http.Request, id int) {
	is, ok := f.issues[id]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	include := map[string]bool{}
	for _, s := range strings.Split(r.URL.Query().Get("include"), ",") {
		include[s] = true
	}
	answer(w, http.StatusOK, map[string]any{"issue": f.issueJSON(is, include)})
}

func (f *fake) update(w http.ResponseWriter, r *http.Request, id int) {
	is, ok := f.issues[id]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	in := body(r)
	ups, _ := in["uploads"].([]any)
	var add []fakeAttachment
	for _, u := range ups {
		m, _ := u.(map[string]any)
		token, _ := m["token"].(string)
		a, ok := f.uploads[token]
		if !ok {
			refuse(w, "Attachments is invalid")
			return
		}
		delete(f.uploads, token)
		if name, _ := m["filename"].(string); name != "" {
			a.name = sanitize(name)
		}
		if typ, _ := m["content_type"].(string); typ != "" {
			a.typ = typ
		}
		add = append(add, a)
	}
	is.attachments = append(is.attachments, add...)
	if n, _ := in["notes"].(string); n != "" {
		is.notes = append(is.notes, n)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fake) upload(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/octet-stream" {
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	if r.ContentLength < 0 {
		w.WriteHeader(http.StatusLengthRequired)
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil || n != r.ContentLength {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n > f.maxSize {
		refuse(w, fmt.Sprintf("This file cannot be uploaded because it exceeds the maximum allowed file size (%d KB)", f.maxSize>>10))
		return
	}
	name := r.URL.Query().Get("filename")
	if name == "" {
		name = "0123456789abcdef"
	}
	token := fmt.Sprintf("%d.%x", len(f.uploads)+100, sha256.Sum256([]byte(name)))
	f.uploads[token] = fakeAttachment{name: sanitize(name), sha: hex.EncodeToString(h.Sum(nil))}
	answer(w, http.StatusCreated, map[string]any{"upload": map[string]any{"id": len(f.uploads), "token": token}})
}

// sanitize is Attachment#sanitize_filename: the name after its last
// slash, each run of unsafe characters one '_'.
func sanitize(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	var b strings.Builder
	run := false
	for _, c := range name {
		unsafe := strings.ContainsRune("/?%*:|\"'<>\n\r", c)
		if unsafe && !run {
			b.WriteByte('_')
		} else if !unsafe {
			b.WriteRune(c)
		}
		run = unsafe
	}
	return b.String()
}

// The Backend side, for helpdesktest.Conformance.

func (f *fake) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := strconv.Atoi(key)
	if is := f.issues[id]; is != nil {
		for _, a := range is.attachments {
			if a.name == name {
				return a.sha, true
			}
		}
	}
	return "", false
}

func (f *fake) Comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := strconv.Atoi(key)
	if is := f.issues[id]; is != nil {
		return append([]string(nil), is.notes...)
	}
	return nil
}

func (f *fake) Resolve(key, assignee string) { f.set(key, 3, assignee) }

func (f *fake) set(key string, status int, assignee string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := strconv.Atoi(key)
	f.issues[id].status, f.issues[id].assignee = status, assignee
}

func (f *fake) Throttle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = true
}

func (f *fake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

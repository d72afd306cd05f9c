package servicenow

// The fake below behaves as these pages of ServiceNow's documentation say
// an instance does:
//   - Table API (POST/GET/PATCH /api/now/table/{table}[/{sys_id}];
//     sysparm_query encoded queries, sysparm_fields, sysparm_limit,
//     sysparm_display_value=all giving {"value", "display_value"}; answers
//     in {"result": ...}, errors in {"error": {"message", "detail"},
//     "status": "failure"}), in the API reference's REST APIs, next to:
//   - Attachment API (POST /api/now/attachment/file?table_name=&table_sys_id=
//     &file_name=, the file's bytes as the body with its Content-Type;
//     GET /api/now/attachment?sysparm_query=; com.glide.attachment.max_size):
//     https://www.servicenow.com/docs/r/zurich/api-reference/rest-apis/c_AttachmentAPI.html
//   - Inbound REST API rate limiting (429 with Retry-After):
//     https://www.servicenow.com/docs/r/zurich/api-reference/rest-api-explorer/inbound-REST-API-rate-limiting.html
//   - Render journal field entries as HTML ([code]…[/code]) and its
//     hardening property glide.ui.security.allow_codetag:
//     https://www.servicenow.com/docs/r/australia/platform-administration/render-journal-field-entries-as-html.html
//   - Incident life cycle (1 New, 2 In Progress, 3 On Hold, 6 Resolved,
//     7 Closed, 8 Canceled):
//     https://www.servicenow.com/docs/r/it-service-management/incident-management/c_IncidentManagementStateModel.html
// A stock incident's short_description holds 160 characters; the fake cuts
// a longer one silently, as the instance does.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

const (
	fakeUser     = "sonde.integration"
	fakePassword = "Sn0w-integration-pass"
	fakeGroup    = "287ebd7da9fe198100f92cc8d1d2154e"
)

type record map[string]string

// fakeNow is a ServiceNow instance's incident, journal and attachment
// tables.
type fakeNow struct {
	limit int64 // com.glide.attachment.max_size, bytes

	mu          sync.Mutex
	throttle    bool
	incidents   map[string]record
	order       []string
	journal     []record
	attachments []record
	posts       int // requests that reached the attachment endpoint
	ids         int
	loose       bool // whether lists ignore sysparm_query, as an instance does with a query it cannot apply
}

func newFake(t *testing.T, limit int64) (*fakeNow, *httptest.Server) {
	f := &fakeNow{limit: limit, incidents: map[string]record{}}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return f, srv
}

func connect(t *testing.T, srv *httptest.Server, edit func(*helpdesk.Settings)) helpdesk.Connector {
	t.Helper()
	s := helpdesk.Settings{Config: helpdesk.Config{Name: "snow", Kind: "servicenow", URL: srv.URL, Queue: fakeGroup, User: fakeUser,
		Fields: map[string]string{"urgency": "2", "category": "software"}}, Secret: fakePassword}
	if edit != nil {
		edit(&s)
	}
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// sysID is a new 32-digit hex sys_id; the caller holds f.mu.
func (f *fakeNow) sysID() string {
	f.ids++
	return fmt.Sprintf("46d44a5dc0a8010e%016x", f.ids)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg, detail string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"message": msg, "detail": detail}, "status": "failure"})
}

func (f *fakeNow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		fail(w, http.StatusTooManyRequests, "Rate limit exceeded", "The rate limit for this user has been exceeded")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != fakeUser || p != fakePassword {
		// Worst case for the connector: an answer that repeats what it was sent.
		fail(w, http.StatusUnauthorized, "User Not Authenticated "+r.Header.Get("Authorization")+" "+u+":"+p, "Required to provide Auth information")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		fail(w, http.StatusNotAcceptable, "Not Acceptable", "the connector reads JSON only")
		return
	}
	q := r.URL.Query()
	switch path := r.URL.Path; {
	case path == "/api/now/table/incident" && r.Method == http.MethodPost:
		f.create(w, r)
	case path == "/api/now/table/incident" && r.Method == http.MethodGet:
		f.list(w, q, func() []record { return f.ordered() })
	case strings.HasPrefix(path, "/api/now/table/incident/"):
		f.incident(w, r, strings.TrimPrefix(path, "/api/now/table/incident/"))
	case path == "/api/now/table/sys_journal_field" && r.Method == http.MethodGet:
		f.list(w, q, func() []record { return f.journal })
	case path == "/api/now/attachment" && r.Method == http.MethodGet:
		f.list(w, q, func() []record { return f.attachments })
	case path == "/api/now/attachment/file" && r.Method == http.MethodPost:
		f.attach(w, r)
	default:
		fail(w, http.StatusBadRequest, "Requested URI does not represent any resource", path)
	}
}

func (f *fakeNow) ordered() []record {
	var out []record
	for _, id := range f.order {
		out = append(out, f.incidents[id])
	}
	return out
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", r.Header.Get("Content-Type"))
		return false
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return false
	}
	return true
}

// fields keeps of rec the sysparm_fields asked for, as values or, with
// sysparm_display_value=all, as {"value", "display_value"}.
func fields(rec record, q map[string][]string) map[string]any {
	out := map[string]any{}
	names := strings.Split(first(q["sysparm_fields"]), ",")
	if first(q["sysparm_fields"]) == "" {
		names = nil
		for k := range rec {
			names = append(names, k)
		}
	}
	for _, k := range names {
		if first(q["sysparm_display_value"]) == "all" {
			out[k] = map[string]string{"value": rec[k], "display_value": display(k, rec)}
		} else {
			out[k] = rec[k]
		}
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

var stateNames = map[string]string{"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}

func display(field string, rec record) string {
	switch field {
	case "state":
		return stateNames[rec["state"]]
	case "assigned_to":
		return rec["assigned_to.name"]
	}
	return rec[field]
}

func (f *fakeNow) create(w http.ResponseWriter, r *http.Request) {
	var in map[string]string
	if !readJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	rec := record{"sys_id": f.sysID(), "number": "INC00100" + strconv.Itoa(len(f.order)+1), "state": "1"}
	for k, v := range in {
		rec[k] = v
	}
	if s := rec["short_description"]; utf8.RuneCountInString(s) > 160 {
		rec["short_description"] = string([]rune(s)[:160]) // cut silently
	}
	f.incidents[rec["sys_id"]] = rec
	f.order = append(f.order, rec["sys_id"])
	out := fields(rec, r.URL.Query())
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"result": out})
}

var fieldName = regexp.MustCompile(`^[a-z_.]+$`)

// matches applies an encoded query's conditions (field=value,
// fieldLIKEvalue, joined by ^) to rec; LIKE is a case-blind contains.
func matches(rec record, query string) (bool, error) {
	if query == "" {
		return true, nil
	}
	for _, cond := range strings.Split(query, "^") {
		if i := strings.Index(cond, "LIKE"); i > 0 && fieldName.MatchString(cond[:i]) {
			if !strings.Contains(strings.ToLower(rec[cond[:i]]), strings.ToLower(cond[i+4:])) {
				return false, nil
			}
		} else if i := strings.Index(cond, "="); i > 0 && fieldName.MatchString(cond[:i]) {
			if rec[cond[:i]] != cond[i+1:] {
				return false, nil
			}
		} else {
			return false, fmt.Errorf("invalid condition %q", cond)
		}
	}
	return true, nil
}

func (f *fakeNow) list(w http.ResponseWriter, q map[string][]string, table func() []record) {
	limit, err := strconv.Atoi(first(q["sysparm_limit"]))
	if err != nil {
		limit = 10000
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, rec := range table() {
		ok, err := matches(rec, first(q["sysparm_query"]))
		ok = ok || f.loose
		if err != nil {
			fail(w, http.StatusBadRequest, "Invalid query", err.Error())
			return
		}
		if ok && len(out) < limit {
			out = append(out, fields(rec, q))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (f *fakeNow) incident(w http.ResponseWriter, r *http.Request, id string) {
	f.mu.Lock()
	rec, ok := f.incidents[id]
	f.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	switch r.Method {
	case http.MethodGet:
		f.mu.Lock()
		out := fields(rec, r.URL.Query())
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"result": out})
	case http.MethodPatch, http.MethodPut:
		var in map[string]string
		if !readJSON(w, r, &in) {
			return
		}
		f.mu.Lock()
		for k, v := range in {
			if k == "work_notes" || k == "comments" {
				f.journal = append(f.journal, record{"sys_id": f.sysID(), "element_id": id, "name": "incident", "element": k, "value": v})
				continue
			}
			rec[k] = v
		}
		out := fields(rec, r.URL.Query())
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"result": out})
	default:
		fail(w, http.StatusMethodNotAllowed, "Method not Supported", r.Method)
	}
}

// attach hashes the body as it arrives; it never holds it whole.
func (f *fakeNow) attach(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.posts++
	f.mu.Unlock()
	q := r.URL.Query()
	table, id, name := q.Get("table_name"), q.Get("table_sys_id"), q.Get("file_name")
	f.mu.Lock()
	_, known := f.incidents[id]
	f.mu.Unlock()
	ctype := r.Header.Get("Content-Type")
	switch {
	case table != "incident" || !known || name == "":
		fail(w, http.StatusBadRequest, "Failed to create the attachment", "table_name, table_sys_id and file_name must name a record and a file")
		return
	case ctype == "" || strings.HasPrefix(ctype, "multipart/"):
		fail(w, http.StatusBadRequest, "Failed to create the attachment", "/file takes the file's bytes with their Content-Type; multipart goes to /upload")
		return
	case r.ContentLength < 0:
		fail(w, http.StatusLengthRequired, "Length Required", "")
		return
	case r.ContentLength > f.limit:
		fail(w, http.StatusRequestEntityTooLarge, "Attachment exceeds the maximum size", "com.glide.attachment.max_size")
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil || n != r.ContentLength {
		fail(w, http.StatusBadRequest, "Failed to create the attachment", "incomplete body")
		return
	}
	f.mu.Lock()
	rec := record{"sys_id": f.sysID(), "table_name": table, "table_sys_id": id, "file_name": name, "content_type": ctype,
		"size_bytes": strconv.FormatInt(n, 10), "sha256": hex.EncodeToString(h.Sum(nil))}
	f.attachments = append(f.attachments, rec)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"result": rec})
}

func (f *fakeNow) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.attachments {
		if a["table_sys_id"] == key && a["file_name"] == name {
			return a["sha256"], true
		}
	}
	return "", false
}

func (f *fakeNow) Comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, j := range f.journal {
		if j["element_id"] == key {
			out = append(out, j["value"])
		}
	}
	return out
}

func (f *fakeNow) Resolve(key, assignee string) { f.set(key, "6", assignee) }

func (f *fakeNow) set(key, state, assignee string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.incidents[key]
	rec["state"], rec["assigned_to"], rec["assigned_to.name"] = state, "", assignee
	if assignee != "" {
		rec["assigned_to"] = "5137153cc611227c000bbd1bd8cd2007"
	}
}

func (f *fakeNow) Throttle() {
	f.mu.Lock()
	f.throttle = true
	f.mu.Unlock()
}

func TestContract(t *testing.T) {
	fake, srv := newFake(t, 1<<30)
	c := connect(t, srv, nil)
	helpdesktest.Conformance(t, c, fake, 3<<20+17)
	inc := fake.ordered()[0]
	if inc["assignment_group"] != fakeGroup || inc["urgency"] != "2" || inc["description"] == "" {
		t.Errorf("incident %v: want the queue's assignment group, the fields and a description", inc)
	}
	for _, j := range fake.journal {
		if j["element"] != "work_notes" || !strings.HasPrefix(j["value"], "[code]") || !strings.HasSuffix(j["value"], "[/code]") {
			t.Errorf("journal entry %v: want a work note wrapped in [code]", j)
		}
	}
	if a := fake.attachments[0]; a["content_type"] != "application/zip" {
		t.Errorf("attachment stored as %q", a["content_type"])
	}
}

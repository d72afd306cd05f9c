package jira

// The fake below behaves as these pages of Atlassian's documentation say
// Jira Cloud does:
//   - Basic auth for REST APIs (e-mail and API token):
//     https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
//   - Create issue, POST /rest/api/3/issue, and Get issue with fields=:
//     https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
//   - Search for issues using JQL (enhanced search), POST /rest/api/3/search/jql;
//     the old /rest/api/3/search answers 410 Gone since CHANGE-2046:
//     https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
//     https://developer.atlassian.com/changelog/#CHANGE-2046
//   - Add comment, POST /rest/api/3/issue/{key}/comment (ADF body;
//     jsdPublic true unless the sd.public.comment property says internal):
//     https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/
//   - Add attachment, POST /rest/api/3/issue/{key}/attachments: multipart
//     field "file", blocked without X-Atlassian-Token: no-check; 413 when too big:
//     https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/
//   - Atlassian Document Format:
//     https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
//   - Rate limiting (429 with Retry-After):
//     https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
//   - Admin webhooks signed with a secret (X-Hub-Signature: sha256=<hex HMAC>):
//     https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks

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
	fakeUser    = "sonde@example.com"
	fakeToken   = "ATATT3xFfGF0-jira-token"
	fakeProject = "OPS"
)

type fakeIssue struct {
	project, summary, issueType string
	status, category, assignee  string
	comments                    []string // ADF bodies, as stored (JSON)
	internal                    []bool
	attachments                 map[string]string // file name → SHA-256
	names                       []string
}

// fakeJira is a Jira Cloud site with one project, OPS.
type fakeJira struct {
	limit int64 // largest attachment, bytes

	mu       sync.Mutex
	throttle bool
	issues   map[string]*fakeIssue
	keys     []string
	uploads  int // requests that reached the attachments endpoint
}

func newFake(t *testing.T, limit int64) (*fakeJira, *httptest.Server) {
	f := &fakeJira{limit: limit, issues: map[string]*fakeIssue{}}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return f, srv
}

func connect(t *testing.T, srv *httptest.Server, edit func(*helpdesk.Settings)) helpdesk.Connector {
	t.Helper()
	s := helpdesk.Settings{Config: helpdesk.Config{Name: "jira", Kind: "jira", URL: srv.URL, Queue: fakeProject, User: fakeUser,
		Fields: map[string]string{"issuetype": "Incident", "priority": "High", "customfield_10010": "sonde"}}, Secret: fakeToken}
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
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jiraError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"errorMessages": []string{msg}, "errors": map[string]string{}})
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		jiraError(w, http.StatusTooManyRequests, "Rate limit exceeded.")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != fakeUser || p != fakeToken {
		// Worst case for the connector: an answer that repeats what it was sent.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%s %s:%s Client must be authenticated to access this resource.", r.Header.Get("Authorization"), u, p)
		return
	}
	path := r.URL.Path
	switch {
	case path == "/rest/api/3/issue" && r.Method == http.MethodPost:
		f.create(w, r)
	case path == "/rest/api/3/search/jql" && r.Method == http.MethodPost:
		f.search(w, r)
	case path == "/rest/api/3/search":
		jiraError(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")
	case strings.HasPrefix(path, "/rest/api/3/issue/"):
		f.issue(w, r, strings.Split(strings.TrimPrefix(path, "/rest/api/3/issue/"), "/"))
	default:
		jiraError(w, http.StatusNotFound, "No resource at "+path)
	}
}

// readJSON decodes a JSON body, answering 415 to any other content type.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		jiraError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type")
		return false
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		jiraError(w, http.StatusBadRequest, "Unexpected character in the request body: "+err.Error())
		return false
	}
	return true
}

func (f *fakeJira) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	var project, issueType struct{ Key, Name string }
	var summary, custom string
	var priority struct{ Name string }
	var desc node
	errs := map[string]string{}
	if json.Unmarshal(in.Fields["project"], &project) != nil || project.Key != fakeProject {
		errs["project"] = "Specify a valid project ID or key"
	}
	if json.Unmarshal(in.Fields["summary"], &summary) != nil || summary == "" || strings.ContainsAny(summary, "\r\n") || utf8.RuneCountInString(summary) > 255 {
		errs["summary"] = "Summary must be one line of less than 255 characters."
	}
	if json.Unmarshal(in.Fields["issuetype"], &issueType) != nil || (issueType.Name != "Task" && issueType.Name != "Incident") {
		errs["issuetype"] = "Specify an issue type"
	}
	if json.Unmarshal(in.Fields["description"], &desc) != nil || validADF(desc) != nil {
		errs["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
	}
	if raw, ok := in.Fields["priority"]; ok && (json.Unmarshal(raw, &priority) != nil || priority.Name == "") {
		errs["priority"] = "Specify the Priority (name) in the string format"
	}
	if raw, ok := in.Fields["customfield_10010"]; ok && json.Unmarshal(raw, &custom) != nil {
		errs["customfield_10010"] = "Operation value must be a string"
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": errs})
		return
	}
	f.mu.Lock()
	key := fakeProject + "-" + strconv.Itoa(len(f.keys)+1)
	f.issues[key] = &fakeIssue{project: project.Key, summary: summary, issueType: issueType.Name, status: "To Do", category: "new", attachments: map[string]string{}}
	f.keys = append(f.keys, key)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": strconv.Itoa(10000 + len(f.keys)), "key": key, "self": "https://example.atlassian.net/rest/api/3/issue/" + key})
}

var jqlShape = regexp.MustCompile(`^project = "((?:[^"\\]|\\.)*)" AND summary ~ "((?:[^"\\]|\\.)*)"$`)

func unquote(s string) string { return strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(s) }

// search understands the one JQL shape the connector sends; a phrase in a
// text search is approximated by a substring.
func (f *fakeJira) search(w http.ResponseWriter, r *http.Request) {
	var in struct {
		JQL        string   `json:"jql"`
		Fields     []string `json:"fields"`
		MaxResults int      `json:"maxResults"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	m := jqlShape.FindStringSubmatch(in.JQL)
	phrase := ""
	if m != nil {
		phrase = unquote(m[2])
	}
	if m == nil || len(phrase) < 2 || phrase[0] != '"' || phrase[len(phrase)-1] != '"' {
		jiraError(w, http.StatusBadRequest, "Error in the JQL Query: "+in.JQL)
		return
	}
	phrase = unquote(phrase[1 : len(phrase)-1])
	f.mu.Lock()
	defer f.mu.Unlock()
	issues := []map[string]any{}
	for _, k := range f.keys {
		is := f.issues[k]
		if is.project == unquote(m[1]) && strings.Contains(is.summary, phrase) {
			issue := map[string]any{"id": k, "key": k, "fields": map[string]any{}}
			if len(in.Fields) == 1 && in.Fields[0] == "summary" {
				issue["fields"] = map[string]any{"summary": is.summary}
			}
			issues = append(issues, issue)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"issues": issues, "isLast": true})
}

func (f *fakeJira) issue(w http.ResponseWriter, r *http.Request, parts []string) {
	f.mu.Lock()
	is, ok := f.issues[parts[0]]
	f.mu.Unlock()
	if !ok {
		jiraError(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		f.get(w, r, parts[0], is)
	case len(parts) == 2 && parts[1] == "comment" && r.Method == http.MethodPost:
		f.comment(w, r, is)
	case len(parts) == 2 && parts[1] == "attachments" && r.Method == http.MethodPost:
		f.attach(w, r, is)
	default:
		jiraError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	}
}

func (f *fakeJira) get(w http.ResponseWriter, r *http.Request, key string, is *fakeIssue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fields := map[string]any{}
	for _, name := range strings.Split(r.URL.Query().Get("fields"), ",") {
		switch name {
		case "summary":
			fields["summary"] = is.summary
		case "status":
			fields["status"] = map[string]any{"name": is.status, "statusCategory": map[string]string{"key": is.category}}
		case "assignee":
			fields["assignee"] = nil
			if is.assignee != "" {
				fields["assignee"] = map[string]string{"displayName": is.assignee, "accountId": "5b10a2844c20165700ede21g"}
			}
		case "comment":
			cs := []map[string]any{}
			for i, c := range is.comments {
				cs = append(cs, map[string]any{"id": strconv.Itoa(i + 1), "body": json.RawMessage(c), "jsdPublic": !is.internal[i]})
			}
			fields["comment"] = map[string]any{"comments": cs, "startAt": 0, "maxResults": len(cs), "total": len(cs)}
		case "attachment":
			as := []map[string]any{}
			for i, n := range is.names {
				as = append(as, map[string]any{"id": strconv.Itoa(i + 1), "filename": n})
			}
			fields["attachment"] = as
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "fields": fields})
}

func (f *fakeJira) comment(w http.ResponseWriter, r *http.Request, is *fakeIssue) {
	var in struct {
		Body       node `json:"body"`
		Properties []struct {
			Key   string `json:"key"`
			Value struct {
				Internal bool `json:"internal"`
			} `json:"value"`
		} `json:"properties"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if err := validADF(in.Body); err != nil {
		jiraError(w, http.StatusBadRequest, "Comment body is not valid: "+err.Error())
		return
	}
	internal := false
	for _, p := range in.Properties {
		internal = internal || p.Key == "sd.public.comment" && p.Value.Internal
	}
	stored, _ := json.Marshal(in.Body)
	f.mu.Lock()
	is.comments = append(is.comments, string(stored))
	is.internal = append(is.internal, internal)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": "1", "body": in.Body, "jsdPublic": !internal})
}

// attach hashes the "file" part as it arrives; it never holds it whole.
func (f *fakeJira) attach(w http.ResponseWriter, r *http.Request, is *fakeIssue) {
	f.mu.Lock()
	f.uploads++
	f.mu.Unlock()
	if r.Header.Get("X-Atlassian-Token") != "no-check" {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "XSRF check failed")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		jiraError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	if r.ContentLength > f.limit+64<<10 {
		jiraError(w, http.StatusRequestEntityTooLarge, "The attachment is larger than the attachment size limit.")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		jiraError(w, http.StatusBadRequest, err.Error())
		return
	}
	var out []map[string]any
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			jiraError(w, http.StatusBadRequest, err.Error())
			return
		}
		if p.FormName() != "file" || p.FileName() == "" {
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(p, f.limit+1))
		if err != nil {
			jiraError(w, http.StatusBadRequest, err.Error())
			return
		}
		if n > f.limit {
			jiraError(w, http.StatusRequestEntityTooLarge, "The attachment is larger than the attachment size limit.")
			return
		}
		f.mu.Lock()
		is.attachments[p.FileName()] = hex.EncodeToString(h.Sum(nil))
		is.names = append(is.names, p.FileName())
		f.mu.Unlock()
		out = append(out, map[string]any{"filename": p.FileName(), "size": n, "mimeType": p.Header.Get("Content-Type")})
	}
	if len(out) == 0 {
		jiraError(w, http.StatusBadRequest, "No attachment in the multipart field file.")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// validADF checks what Jira checks of a document: a doc of version 1
// whose text nodes are non-empty and hold no line breaks.
func validADF(d node) error {
	if d.Type != "doc" || d.Version != 1 || len(d.Content) == 0 {
		return fmt.Errorf("not a version 1 doc")
	}
	var walk func(node) error
	walk = func(n node) error {
		switch n.Type {
		case "text":
			if n.Text == "" || strings.ContainsAny(n.Text, "\r\n") || len(n.Content) > 0 {
				return fmt.Errorf("bad text node %q", n.Text)
			}
		case "hardBreak":
		case "paragraph", "heading", "bulletList", "orderedList", "listItem":
			for _, c := range n.Content {
				if err := walk(c); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("unknown node %q", n.Type)
		}
		return nil
	}
	for _, c := range d.Content {
		if err := walk(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeJira) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if is, ok := f.issues[key]; ok {
		sum, ok := is.attachments[name]
		return sum, ok
	}
	return "", false
}

func (f *fakeJira) Comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if is, ok := f.issues[key]; ok {
		return append([]string(nil), is.comments...)
	}
	return nil
}

func (f *fakeJira) Resolve(key, assignee string) { f.setStatus(key, "Done", "done", assignee) }

func (f *fakeJira) setStatus(key, name, category, assignee string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.issues[key]
	is.status, is.category, is.assignee = name, category, assignee
}

func (f *fakeJira) Throttle() {
	f.mu.Lock()
	f.throttle = true
	f.mu.Unlock()
}

func TestContract(t *testing.T) {
	fake, srv := newFake(t, 10<<20)
	c := connect(t, srv, nil)
	helpdesktest.Conformance(t, c, fake, 3<<20+17)
	is := fake.issues["OPS-1"]
	if is.issueType != "Incident" || len(is.internal) != 1 || !is.internal[0] {
		t.Errorf("issue type %q, comments internal %v; want Incident and one internal comment", is.issueType, is.internal)
	}
}

package glpi

// The fake below behaves as GLPI's REST API documentation says:
//
//   - GLPI's apirest.md (served by every GLPI at apirest.php/, and in the
//     glpi-project/glpi repository): initSession with "Authorization:
//     user_token {token}" and the optional App-Token → {"session_token"};
//     Session-Token and App-Token on every other call; "you should always
//     precise a Content-Type header" (application/json, or
//     multipart/form-data for uploads); "GET requests must have an empty
//     body"; Get an item (GET :itemtype/:id), Get sub items (GET
//     :itemtype/:id/:sub_itemtype, with range), Search items (GET
//     search/:itemtype?criteria[0][field]=...&forcedisplay[0]=..., rows
//     under "data"), Add item(s) (POST :itemtype {"input": {...}} → 201
//     {"id"}; multipart with an "uploadManifest" part); the errors
//     ERROR_SESSION_TOKEN_INVALID ("You should redo an Init session
//     request"), ERROR_SESSION_TOKEN_MISSING, ERROR_APP_TOKEN_PARAMETERS_
//     MISSING, ERROR_GLPI_LOGIN_USER_TOKEN, answered as a JSON array
//     [code, message].
//   - GLPI's upload flow (apirest.md, Add item(s): "In case of
//     'multipart/data' content_type (aka file upload), you should insert
//     your parameters into a 'uploadManifest' parameter"; the example of
//     github.com/orthagh/glpi_api_upload, by GLPI's API author): -F
//     'uploadManifest={"input": {"name": ..., "_filename": ["file.txt"]}};
//     type=application/json' -F 'filename[0]=@file.txt' to
//     apirest.php/Document/ → 201 {"id", "message", "upload_result"};
//     Document::post_addItem links the document to the item named by the
//     input's itemtype and items_id (src/Document.php).
//   - Ticket statuses 1 new, 2 processing (assigned), 3 processing
//     (planned), 4 pending, 5 solved, 6 closed; Ticket_User type 1
//     requester, 2 assigned, 3 observer (src/CommonITILObject.php,
//     src/CommonITILActor.php). Search option 1 of Ticket is its title, 2
//     its id. GLPI 10 keeps rich text HTML-encoded (&#60;p&#62;).
//
// GLPI itself has no 429; a reverse proxy in front of it does, and the fake
// answers it with Retry-After when throttled. Its 413 stands for PHP's
// post_max_size or the web server's body limit.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

type fakeDoc struct {
	id               int
	name, filename   string
	sha256           string
	itemtype, itemID string
}

type fakeTicket struct {
	id        int
	name      string
	content   string
	fields    map[string]any
	status    int
	followups []string // as GLPI stores them, HTML-encoded
	assignees []int    // users_id of Ticket_User rows of type 2
}

// fakeGLPI is GLPI's apirest.php as its documentation describes it.
type fakeGLPI struct {
	userToken, appToken string
	limit               int64
	srv                 *httptest.Server

	mu       sync.Mutex
	sessions map[string]bool
	issued   []string // every session token given
	forget   bool     // forget sessions as soon as they are given
	inits    int      // initSession calls
	throttle bool
	tickets  map[int]*fakeTicket
	docs     map[int]*fakeDoc
	users    map[int]string
	next     int
	requests int
}

func newFakeGLPI(t *testing.T, userToken, appToken string, limit int64) *fakeGLPI {
	f := &fakeGLPI{userToken: userToken, appToken: appToken, limit: limit, sessions: map[string]bool{},
		tickets: map[int]*fakeTicket{}, docs: map[int]*fakeDoc{}, users: map[int]string{2: "glpi"}, next: 10}
	f.srv = httptest.NewServer(http.StripPrefix("/glpi/apirest.php", http.HandlerFunc(f.serve)))
	t.Cleanup(f.srv.Close)
	return f
}

// root is GLPI's root, as the connector's url names it.
func (f *fakeGLPI) root() string { return f.srv.URL + "/glpi" }

func gjson(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func gerror(w http.ResponseWriter, code int, errCode, msg string) {
	gjson(w, code, []string{errCode, msg})
}

// stored is text as GLPI 10 keeps it: HTML-encoded.
var stored = strings.NewReplacer("&", "&#38;", "<", "&#60;", ">", "&#62;")

var (
	reItem    = regexp.MustCompile(`^/(Ticket|Document|User)/(\d+)$`)
	reSubItem = regexp.MustCompile(`^/Ticket/(\d+)/(ITILFollowup|Document_Item|Ticket_User)$`)
)

func (f *fakeGLPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	throttled := f.throttle
	f.throttle = false
	f.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "7")
		gerror(w, http.StatusTooManyRequests, "ERROR_TOO_MANY_REQUESTS", "Too Many Requests")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case f.appToken != "" && r.Header.Get("App-Token") == "":
		gerror(w, http.StatusBadRequest, "ERROR_APP_TOKEN_PARAMETERS_MISSING", "missing parameter app_token")
		return
	case f.appToken != "" && r.Header.Get("App-Token") != f.appToken:
		gerror(w, http.StatusBadRequest, "ERROR_WRONG_APP_TOKEN_PARAMETER", "parameter app_token seems wrong, got "+r.Header.Get("App-Token"))
		return
	case r.Method == http.MethodGet && r.ContentLength != 0:
		gerror(w, http.StatusBadRequest, "ERROR_JSON_PAYLOAD_FORBIDDEN", "GET Request should not have json payload (http body)")
		return
	case ct != "application/json" && ct != "multipart/form-data":
		gerror(w, http.StatusBadRequest, "ERROR_BAD_ARRAY", "Content-Type must be application/json or multipart/form-data")
		return
	case r.ContentLength > f.limit:
		gerror(w, http.StatusRequestEntityTooLarge, "ERROR_UPLOAD_TOO_LARGE", "Request Entity Too Large")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, f.limit)
	if r.URL.Path == "/initSession" && r.Method == http.MethodGet {
		f.initSession(w, r)
		return
	}
	tok := r.Header.Get("Session-Token")
	f.mu.Lock()
	known := f.sessions[tok]
	f.mu.Unlock()
	if tok == "" {
		gerror(w, http.StatusBadRequest, "ERROR_SESSION_TOKEN_MISSING", "parameter session_token is missing or empty")
		return
	}
	if !known {
		// A careless server: it echoes what it was sent.
		gerror(w, http.StatusUnauthorized, "ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid: "+tok+" (Authorization: "+r.Header.Get("Authorization")+")")
		return
	}
	p := r.URL.Path
	switch m := reSubItem.FindStringSubmatch(p); {
	case r.Method == http.MethodPost && p == "/Ticket":
		f.addTicket(w, r)
	case r.Method == http.MethodPost && p == "/Document":
		f.addDocument(w, r)
	case r.Method == http.MethodGet && p == "/search/Ticket":
		f.search(w, r)
	case r.Method == http.MethodPost && m != nil && m[2] == "ITILFollowup":
		f.addFollowup(w, r, m[1])
	case r.Method == http.MethodGet && m != nil:
		f.subItems(w, m[1], m[2])
	case r.Method == http.MethodGet && reItem.MatchString(p):
		m := reItem.FindStringSubmatch(p)
		f.item(w, m[1], m[2])
	default:
		gerror(w, http.StatusBadRequest, "ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", "resource not found or not an instance of CommonDBTM: "+p)
	}
}

func (f *fakeGLPI) initSession(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "user_token "+f.userToken {
		gerror(w, http.StatusUnauthorized, "ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid: "+r.Header.Get("Authorization"))
		return
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	f.mu.Lock()
	f.sessions[tok] = !f.forget
	f.issued = append(f.issued, tok)
	f.inits++
	f.mu.Unlock()
	gjson(w, http.StatusOK, map[string]string{"session_token": tok})
}

// decode reads a JSON body {"input": ...}, answering 413 over the limit.
func decode(w http.ResponseWriter, r *http.Request, in any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		gerror(w, http.StatusBadRequest, "ERROR_BAD_ARRAY", "input parameter must be an array of objects")
		return false
	}
	err := json.NewDecoder(r.Body).Decode(&struct {
		Input any `json:"input"`
	}{in})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		gerror(w, http.StatusRequestEntityTooLarge, "ERROR_UPLOAD_TOO_LARGE", "Request Entity Too Large")
	case err != nil:
		gerror(w, http.StatusBadRequest, "ERROR_JSON_PAYLOAD_INVALID", "JSON payload seems not valid")
	default:
		return true
	}
	return false
}

func (f *fakeGLPI) addTicket(w http.ResponseWriter, r *http.Request) {
	in := map[string]any{}
	if !decode(w, r, &in) {
		return
	}
	name, _ := in["name"].(string)
	content, _ := in["content"].(string)
	if name == "" || content == "" {
		gerror(w, http.StatusBadRequest, "ERROR_GLPI_ADD", "You can't add a ticket without a title and a description")
		return
	}
	f.mu.Lock()
	f.next++
	tk := &fakeTicket{id: f.next, name: stored.Replace(name), content: stored.Replace(content), fields: in, status: 1}
	f.tickets[tk.id] = tk
	f.mu.Unlock()
	w.Header().Set("Location", f.srv.URL+"/glpi/apirest.php/Ticket/"+strconv.Itoa(tk.id))
	gjson(w, http.StatusCreated, map[string]any{"id": tk.id, "message": ""})
}

func (f *fakeGLPI) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("criteria[0][field]") != "1" || q.Get("criteria[0][searchtype]") != "contains" || q.Get("forcedisplay[0]") != "2" {
		gerror(w, http.StatusBadRequest, "ERROR_BAD_SEARCH", "this fake searches titles (1) for ids (2)")
		return
	}
	value := q.Get("criteria[0][value]")
	f.mu.Lock()
	defer f.mu.Unlock()
	var data []map[string]any
	for _, tk := range f.tickets {
		if strings.Contains(tk.name, stored.Replace(value)) {
			data = append(data, map[string]any{"1": tk.name, "2": tk.id, "80": "Root entity"})
		}
	}
	out := map[string]any{"totalcount": len(data), "count": len(data), "sort": []int{1}, "order": []string{"ASC"}}
	if len(data) > 0 {
		out["data"] = data
		out["content-range"] = "0-" + strconv.Itoa(len(data)-1) + "/" + strconv.Itoa(len(data))
	}
	gjson(w, http.StatusOK, out)
}

func (f *fakeGLPI) addFollowup(w http.ResponseWriter, r *http.Request, id string) {
	var in struct {
		Itemtype  string `json:"itemtype"`
		ItemsID   int    `json:"items_id"`
		Content   string `json:"content"`
		IsPrivate int    `json:"is_private"`
	}
	if !decode(w, r, &in) {
		return
	}
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := f.tickets[n]
	if tk == nil || in.Itemtype != "Ticket" || in.ItemsID != n || in.Content == "" || in.IsPrivate != 1 {
		gerror(w, http.StatusBadRequest, "ERROR_GLPI_ADD", "Sonde's followups are private, on the ticket of the path")
		return
	}
	tk.followups = append(tk.followups, stored.Replace(in.Content))
	gjson(w, http.StatusCreated, map[string]any{"id": n*100 + len(tk.followups), "message": ""})
}

// addDocument reads the multipart body as it comes: the manifest, and the
// file, hashed, never kept.
func (f *fakeGLPI) addDocument(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		gerror(w, http.StatusBadRequest, "ERROR_UPLOAD_FILE_TOO_BIG_POST_MAX_SIZE", "not a multipart body: "+err.Error())
		return
	}
	var manifest struct {
		Input struct {
			Name     string   `json:"name"`
			Filename []string `json:"_filename"`
			Itemtype string   `json:"itemtype"`
			ItemsID  int      `json:"items_id"`
		} `json:"input"`
	}
	var uploaded, sum string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gerror(w, http.StatusRequestEntityTooLarge, "ERROR_UPLOAD_TOO_LARGE", "Request Entity Too Large")
			return
		}
		if err != nil {
			gerror(w, http.StatusBadRequest, "ERROR_BAD_ARRAY", "multipart: "+err.Error())
			return
		}
		switch part.FormName() {
		case "uploadManifest":
			if err := json.NewDecoder(io.LimitReader(part, 1<<16)).Decode(&manifest); err != nil {
				gerror(w, http.StatusBadRequest, "ERROR_JSON_PAYLOAD_INVALID", "uploadManifest: "+err.Error())
				return
			}
		case "filename[0]":
			h := sha256.New()
			if _, err := io.Copy(h, part); err != nil {
				if errors.As(err, &tooBig) {
					gerror(w, http.StatusRequestEntityTooLarge, "ERROR_UPLOAD_TOO_LARGE", "Request Entity Too Large")
				} else {
					gerror(w, http.StatusBadRequest, "ERROR_BAD_ARRAY", "reading the file: "+err.Error())
				}
				return
			}
			uploaded, sum = part.FileName(), hex.EncodeToString(h.Sum(nil))
		default:
			gerror(w, http.StatusBadRequest, "ERROR_BAD_ARRAY", "unexpected part "+part.FormName())
			return
		}
	}
	in := manifest.Input
	if uploaded == "" || in.Name == "" || len(in.Filename) != 1 || in.Filename[0] != uploaded {
		gerror(w, http.StatusBadRequest, "ERROR_GLPI_ADD", "the manifest must name the uploaded file in _filename")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	d := &fakeDoc{id: f.next, name: in.Name, filename: uploaded, sha256: sum}
	if in.Itemtype == "Ticket" && f.tickets[in.ItemsID] != nil {
		d.itemtype, d.itemID = "Ticket", strconv.Itoa(in.ItemsID)
	}
	f.docs[d.id] = d
	gjson(w, http.StatusCreated, map[string]any{"id": d.id, "message": "Document move succeeded.", "upload_result": map[string]any{}})
}

func (f *fakeGLPI) subItems(w http.ResponseWriter, id, sub string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := f.tickets[n]
	if tk == nil {
		gerror(w, http.StatusNotFound, "ERROR_ITEM_NOT_FOUND", "Item not found")
		return
	}
	list := []map[string]any{}
	switch sub {
	case "ITILFollowup":
		for i, c := range tk.followups {
			list = append(list, map[string]any{"id": n*100 + i + 1, "itemtype": "Ticket", "items_id": n, "content": c, "is_private": 1})
		}
	case "Document_Item":
		for _, d := range f.docs {
			if d.itemtype == "Ticket" && d.itemID == id {
				list = append(list, map[string]any{"id": d.id * 10, "documents_id": d.id, "itemtype": "Ticket", "items_id": n})
			}
		}
	case "Ticket_User":
		list = append(list, map[string]any{"id": n * 10, "tickets_id": n, "users_id": 2, "type": 1})
		for i, u := range tk.assignees {
			list = append(list, map[string]any{"id": n*10 + i + 1, "tickets_id": n, "users_id": u, "type": assigned})
		}
	}
	gjson(w, http.StatusOK, list)
}

func (f *fakeGLPI) item(w http.ResponseWriter, typ, id string) {
	n, _ := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case typ == "Ticket" && f.tickets[n] != nil:
		tk := f.tickets[n]
		gjson(w, http.StatusOK, map[string]any{"id": n, "name": tk.name, "content": tk.content, "status": tk.status, "entities_id": 0})
	case typ == "Document" && f.docs[n] != nil:
		d := f.docs[n]
		gjson(w, http.StatusOK, map[string]any{"id": n, "name": d.name, "filename": d.filename, "mime": "application/zip"})
	case typ == "User" && f.users[n] != "":
		gjson(w, http.StatusOK, map[string]any{"id": n, "name": f.users[n], "realname": strings.ToUpper(f.users[n])})
	default:
		gerror(w, http.StatusNotFound, "ERROR_ITEM_NOT_FOUND", "Item not found")
	}
}

// The helpdesktest.Backend side, and the test's hands on the fake.

// ticket is a copy of the ticket key.
func (f *fakeGLPI) ticket(key string) fakeTicket {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	if tk := f.tickets[n]; tk != nil {
		return *tk
	}
	return fakeTicket{}
}

func (f *fakeGLPI) Attachment(key, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.docs {
		if d.itemtype == "Ticket" && d.itemID == key && d.filename == name {
			return d.sha256, true
		}
	}
	return "", false
}

func (f *fakeGLPI) Comments(key string) []string {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	if tk := f.tickets[n]; tk != nil {
		return append([]string(nil), tk.followups...)
	}
	return nil
}

func (f *fakeGLPI) Resolve(key, assignee string) { f.set(key, statusSolved, assignee) }

// set gives the ticket a status and, when assignee is not "", that
// technician.
func (f *fakeGLPI) set(key string, status int, assignee string) {
	n, _ := strconv.Atoi(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := f.tickets[n]
	if tk == nil {
		return
	}
	tk.status, tk.assignees = status, nil
	if assignee != "" {
		f.next++
		f.users[f.next] = assignee
		tk.assignees = []int{f.next}
	}
}

func (f *fakeGLPI) Throttle() {
	f.mu.Lock()
	f.throttle = true
	f.mu.Unlock()
}

// expire forgets every session, as GLPI does when they time out.
func (f *fakeGLPI) expire() {
	f.mu.Lock()
	f.sessions = map[string]bool{}
	f.mu.Unlock()
}

// counts are the initSession calls and all requests so far.
func (f *fakeGLPI) counts() (inits, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inits, f.requests
}

var _ helpdesktest.Backend = (*fakeGLPI)(nil)

const (
	testUserToken = "glpi-user-token-0123456789"
	testAppToken  = "glpi-app-token-9876543210"
)

func settings(f *fakeGLPI) helpdesk.Settings {
	return helpdesk.Settings{Config: helpdesk.Config{Name: "glpi", Kind: "glpi", URL: f.root(), Queue: "4", MaxUpload: 50 << 20,
		Fields: map[string]string{"urgency": "4", "type": "1"}}, Secret: testUserToken, AppToken: testAppToken}
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
	f := newFakeGLPI(t, testUserToken, testAppToken, 8<<20)
	helpdesktest.Conformance(t, newConn(t, settings(f)), f, 3<<20+1)
}

package webhook

// The receiver below implements the contract of this package's
// documentation (doc.go): it verifies X-Sonde-Timestamp (within 5 minutes)
// and X-Sonde-Signature (HMAC-SHA256 of TIMESTAMP + "." + the raw body, in
// constant time) and refuses anything else with 401; it de-duplicates by
// Idempotency-Key, answering a repeated open with the key it gave first;
// it streams an attachment through the HMAC and a SHA-256 and keeps it only
// when both match; it answers 413 over its size limit and 429 with
// Retry-After when throttled. The signature scheme follows the common
// practice of signed webhooks (a timestamp in the signed text against
// replays, as Stripe's and Slack's request signing do); the
// Idempotency-Key header is the IETF HTTPAPI draft "The Idempotency-Key
// HTTP Header Field".
//
// helpdesktest.Conformance is not run here: a webhook cannot be asked what
// it has (Find, Has) nor a ticket's state, so the tests below check the
// same courier steps against what the receiver recorded.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

type rTicket struct {
	ref, title, queue string
	comments          []map[string]string
	files             map[string]string // name → SHA-256 of what was received
}

// receiver is a helpdesk's side of the generic webhook, as doc.go asks.
type receiver struct {
	secret []byte
	limit  int64
	noKey  bool // answer opens with 204, for Sonde's ref to be the key
	srv    *httptest.Server

	mu       sync.Mutex
	throttle bool
	seen     map[string][]byte // Idempotency-Key → the first answer
	tickets  map[string]*rTicket
	calls    int
}

func newReceiver(t *testing.T, secret string, limit int64) *receiver {
	r := &receiver{secret: []byte(secret), limit: limit, seen: map[string][]byte{}, tickets: map[string]*rTicket{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func answer(w http.ResponseWriter, code int, body []byte) {
	if len(body) > 0 {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func refuse(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	answer(w, code, b)
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.calls++
	throttled := rc.throttle
	rc.throttle = false
	rc.mu.Unlock()
	switch {
	case throttled:
		w.Header().Set("Retry-After", "7")
		refuse(w, http.StatusTooManyRequests, "slow down")
		return
	case r.Method != http.MethodPost:
		refuse(w, http.StatusMethodNotAllowed, "POST only")
		return
	case r.ContentLength < 0:
		refuse(w, http.StatusLengthRequired, "Content-Length required")
		return
	case r.ContentLength > rc.limit:
		refuse(w, http.StatusRequestEntityTooLarge, "too large")
		return
	}
	ts := r.Header.Get("X-Sonde-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		refuse(w, http.StatusUnauthorized, "stale or missing X-Sonde-Timestamp")
		return
	}
	// Read the raw body through the HMAC (and a SHA-256 for a file); keep
	// a JSON body, which is small, and nothing of a file.
	mac := hmac.New(sha256.New, rc.secret)
	mac.Write([]byte(ts + "."))
	sum := sha256.New()
	var kept bytes.Buffer
	event := r.Header.Get("X-Sonde-Event")
	sink := io.MultiWriter(mac, sum)
	if event != "attach" {
		sink = io.MultiWriter(mac, &kept)
	}
	if _, err := io.Copy(sink, http.MaxBytesReader(w, r.Body, rc.limit)); err != nil {
		refuse(w, http.StatusRequestEntityTooLarge, "too large")
		return
	}
	got, err := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Sonde-Signature"), "sha256="))
	if err != nil || !strings.HasPrefix(r.Header.Get("X-Sonde-Signature"), "sha256=") || !hmac.Equal(got, mac.Sum(nil)) {
		// A careless receiver: it echoes what it was sent.
		refuse(w, http.StatusUnauthorized, "bad signature "+r.Header.Get("X-Sonde-Signature")+" at "+ts)
		return
	}
	idem := r.Header.Get("Idempotency-Key")
	if idem == "" {
		refuse(w, http.StatusBadRequest, "Idempotency-Key required")
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if first, ok := rc.seen[idem]; ok {
		answer(w, http.StatusOK, first)
		return
	}
	var code int
	var out []byte
	if event == "attach" {
		code, out = rc.attach(r, hex.EncodeToString(sum.Sum(nil)))
	} else {
		code, out = rc.event(r, event, kept.Bytes())
	}
	if code/100 == 2 {
		rc.seen[idem] = out
	}
	answer(w, code, out)
}

func (rc *receiver) event(r *http.Request, event string, body []byte) (int, []byte) {
	if r.Header.Get("Content-Type") != "application/json" {
		return http.StatusUnsupportedMediaType, []byte(`{"error":"JSON events only"}`)
	}
	var ev map[string]string
	if err := json.Unmarshal(body, &ev); err != nil || ev["event"] != event {
		return http.StatusBadRequest, []byte(`{"error":"the body's event is not X-Sonde-Event"}`)
	}
	switch event {
	case "open":
		if ev["ref"] == "" || ev["marker"] == "" || ev["title"] == "" {
			return http.StatusBadRequest, []byte(`{"error":"ref, marker and title required"}`)
		}
		key := "HD-" + strconv.Itoa(len(rc.tickets)+1)
		if rc.noKey {
			key = ev["ref"]
		}
		rc.tickets[key] = &rTicket{ref: ev["ref"], title: ev["title"], queue: ev["queue"], files: map[string]string{}}
		if rc.noKey {
			return http.StatusNoContent, nil
		}
		b, _ := json.Marshal(map[string]string{"key": key})
		return http.StatusCreated, b
	case "comment":
		tk := rc.tickets[ev["key"]]
		if tk == nil || ev["marker"] == "" || !strings.Contains(ev["text"], ev["marker"]) {
			return http.StatusNotFound, []byte(`{"error":"no such ticket, or no marker"}`)
		}
		tk.comments = append(tk.comments, ev)
		return http.StatusOK, []byte(`{}`)
	}
	return http.StatusBadRequest, []byte(`{"error":"unknown event"}`)
}

func (rc *receiver) attach(r *http.Request, sum string) (int, []byte) {
	tk := rc.tickets[r.Header.Get("X-Sonde-Key")]
	name := r.Header.Get("X-Sonde-File-Name")
	switch {
	case tk == nil:
		return http.StatusNotFound, []byte(`{"error":"no such ticket"}`)
	case name == "" || name != r.Header.Get("Idempotency-Key"):
		return http.StatusBadRequest, []byte(`{"error":"X-Sonde-File-Name is the Idempotency-Key"}`)
	case r.Header.Get("X-Sonde-File-SHA256") != sum:
		return http.StatusBadRequest, []byte(`{"error":"the body is not the file announced"}`)
	}
	tk.files[name] = sum
	return http.StatusOK, []byte(`{}`)
}

// ticket is a copy of what the receiver has of key.
func (rc *receiver) ticket(key string) (rTicket, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if tk := rc.tickets[key]; tk != nil {
		return *tk, len(rc.tickets)
	}
	return rTicket{}, len(rc.tickets)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls
}

const testSecret = "webhook-secret-0123456789abcdef"

func settings(url string) helpdesk.Settings {
	return helpdesk.Settings{Config: helpdesk.Config{Name: "hook", Kind: "webhook", URL: url, MaxUpload: 50 << 20}, WebhookSecret: testSecret}
}

func newConn(t *testing.T, s helpdesk.Settings) *Connector {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.(*Connector)
}

var nt = helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full on host-7", Text: "Sonde opened this ticket.", Queue: "L2"}

// TestCourierSteps runs what the courier does against the receiver: open
// (twice, as after a lost answer), comment (twice), attach, and checks
// what the receiver kept.
func TestCourierSteps(t *testing.T) {
	rc := newReceiver(t, testSecret, 8<<20)
	c := newConn(t, settings(rc.srv.URL+"/sonde/hook"))
	ctx := context.Background()
	if key, err := c.Find(ctx, nt); err != nil || key != "" {
		t.Fatalf("Find = %q, %v", key, err)
	}
	key, err := c.Open(ctx, nt)
	if err != nil || key != "HD-1" {
		t.Fatalf("Open = %q, %v; want the receiver's HD-1", key, err)
	}
	if again, err := c.Open(ctx, nt); err != nil || again != key {
		t.Fatalf("Open again = %q, %v; want the same key", again, err)
	}
	if tk, n := rc.ticket(key); n != 1 || tk.ref != "SND-7" || tk.title != nt.Title || tk.queue != "L2" {
		t.Errorf("the receiver has %d tickets: %+v", n, tk)
	}
	if link := c.Link(key); link != rc.srv.URL+"/sonde/hook#HD-1" {
		t.Errorf("Link = %q", link)
	}

	sum := helpdesk.Summary{Marker: "sonde:SND-7/bundle-4/comment", Ref: "SND-7", Headline: "Sonde bundle 4: 1 finding",
		Findings: []helpdesk.Finding{{Severity: "critical", Title: "Disk / is 97% full <script>"}}}
	for range 2 {
		if err := c.Comment(ctx, key, sum); err != nil {
			t.Fatalf("Comment: %v", err)
		}
	}
	tk, _ := rc.ticket(key)
	if len(tk.comments) != 1 {
		t.Fatalf("the receiver kept %d comments; want 1", len(tk.comments))
	}
	cm := tk.comments[0]
	if cm["key"] != key || cm["marker"] != sum.Marker || !strings.Contains(cm["text"], "97% full <script>") || !strings.Contains(cm["html"], "97% full &lt;script&gt;") {
		t.Errorf("comment = %v", cm)
	}

	f := helpdesktest.File(3<<20 + 1)
	opens := 0
	open := f.Open
	f.Open = func() (io.ReadCloser, error) { opens++; return open() }
	if err := c.Attach(ctx, key, f); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if tk, _ := rc.ticket(key); tk.files[f.Name] != f.SHA256 || opens != 2 {
		t.Errorf("the receiver has %q of %s (want %s), after %d opens (want 2: sign, send)", tk.files[f.Name], f.Name, f.SHA256, opens)
	}

	if has, err := c.Has(ctx, key, sum.Marker); err != nil || has {
		t.Errorf("Has = %v, %v; want false, nil: the receiver de-duplicates", has, err)
	}
	if _, err := c.State(ctx, key); !errors.Is(err, helpdesk.ErrUnsupported) {
		t.Errorf("State = %v; want ErrUnsupported", err)
	}
}

func TestOpenWithoutKeyUsesRef(t *testing.T) {
	rc := newReceiver(t, testSecret, 1<<20)
	rc.noKey = true
	key, err := newConn(t, settings(rc.srv.URL)).Open(context.Background(), nt)
	if err != nil || key != "SND-7" {
		t.Errorf("Open = %q, %v; want the ref", key, err)
	}
}

func TestNewRefuses(t *testing.T) {
	for name, edit := range map[string]func(*helpdesk.Settings){
		"no webhook_secret": func(s *helpdesk.Settings) { s.WebhookSecret = "" },
		"bad URL":           func(s *helpdesk.Settings) { s.URL = "ftp://x" },
		"a fragment":        func(s *helpdesk.Settings) { s.URL = "https://x/hook#frag" },
	} {
		s := settings("https://hooks.example.com/sonde")
		edit(&s)
		if _, err := New(s); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestWrongSecretRefused(t *testing.T) {
	rc := newReceiver(t, testSecret, 1<<20)
	s := settings(rc.srv.URL)
	s.WebhookSecret = "another-secret-that-must-not-leak"
	c := newConn(t, s)
	ctx := context.Background()
	_, e1 := c.Open(ctx, nt)
	e2 := c.Comment(ctx, "HD-1", helpdesk.Summary{Marker: "m"})
	e3 := c.Attach(ctx, "HD-1", helpdesktest.File(1000))
	for i, err := range []error{e1, e2, e3} {
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Errorf("call %d: %v; want HTTP 401", i+1, err)
		} else if strings.Contains(err.Error(), "must-not-leak") {
			t.Errorf("call %d: the error carries the secret: %v", i+1, err)
		}
	}
	if _, n := rc.ticket("HD-1"); n != 0 {
		t.Errorf("the receiver acted on %d badly signed opens", n)
	}
}

func TestThrottled(t *testing.T) {
	rc := newReceiver(t, testSecret, 1<<20)
	rc.throttle = true
	_, err := newConn(t, settings(rc.srv.URL)).Open(context.Background(), nt)
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || se.RetryAfter != 7*time.Second {
		t.Errorf("Open when throttled = %v; want HTTP 429 with a 7 s Retry-After", err)
	}
}

func TestAttachLimits(t *testing.T) {
	rc := newReceiver(t, testSecret, 1<<20)
	s := settings(rc.srv.URL)
	s.MaxUpload = 1000
	c := newConn(t, s)
	ctx := context.Background()
	key, err := c.Open(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	before := rc.count()
	f := helpdesktest.File(1001)
	f.Open = func() (io.ReadCloser, error) {
		t.Error("a file over max_upload was opened")
		return nil, errors.New("no")
	}
	if err := c.Attach(ctx, key, f); err == nil || !strings.Contains(err.Error(), "max_upload") {
		t.Errorf("Attach over max_upload = %v", err)
	}
	f = helpdesktest.File(900)
	f.SHA256 = strings.Repeat("0", 64)
	if err := c.Attach(ctx, key, f); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("Attach of a file that is not the one announced = %v", err)
	}
	if rc.count() != before {
		t.Errorf("%d calls reached the receiver; want none", rc.count()-before)
	}

	err = newConn(t, settings(rc.srv.URL)).Attach(ctx, key, helpdesktest.File(1<<20+1))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("Attach over the receiver's limit = %v; want HTTP 413", err)
	}
}

func TestBadKeysRefused(t *testing.T) {
	c := newConn(t, settings("https://hooks.example.com"))
	for _, key := range []string{"", "a b", "x\r\nX-Evil: 1", strings.Repeat("k", 201)} {
		if err := c.Comment(context.Background(), key, helpdesk.Summary{Marker: "m"}); err == nil {
			t.Errorf("Comment accepted the key %q", key)
		}
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, []byte(`{"key":"two words"}`))
	}))
	defer bad.Close()
	if _, err := newConn(t, settings(bad.URL)).Open(context.Background(), nt); err == nil {
		t.Error("Open accepted a receiver's key with a space")
	}
}

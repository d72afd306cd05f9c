package zammad

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" // Zammad's webhook signature
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

var nt = helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full", Text: "Sonde opened this ticket."}

func TestNewRefuses(t *testing.T) {
	for name, edit := range map[string]func(*helpdesk.Settings){
		"no secret":   func(s *helpdesk.Settings) { s.Secret = "" },
		"no customer": func(s *helpdesk.Settings) { s.Fields = map[string]string{"priority": "3 high"} },
		"bad URL":     func(s *helpdesk.Settings) { s.URL = "zammad.example.com" },
	} {
		s := settings("https://zammad.example.com")
		edit(&s)
		if _, err := New(s); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else if strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: the error carries the token: %v", name, err)
		}
	}
}

func TestOpenInGroupForGuessedCustomer(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	s := settings(f.srv.URL)
	s.Queue = "2nd Level"
	s.Fields = map[string]string{"customer": "guess:jane@example.com"}
	c := newConn(t, s)
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	tk := f.ticket(key)
	if tk.group != "2nd Level" || tk.customer != "guess:jane@example.com" || tk.title != "Disk almost full [sonde:SND-7]" {
		t.Errorf("ticket = %+v", tk)
	}
	t2 := nt
	t2.Queue = "Sales"
	if _, err := c.Open(context.Background(), t2); err == nil || !strings.Contains(err.Error(), "HTTP 422") {
		t.Errorf("Open in an unknown group = %v; want Zammad's 422", err)
	}
	if want := f.srv.URL + "/#ticket/zoom/" + key; c.Link(key) != want {
		t.Errorf("Link = %q, want %q", c.Link(key), want)
	}
}

func TestFindIgnoresLookalikes(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	c := newConn(t, settings(f.srv.URL))
	other := nt
	other.Marker = "sonde:SND-70"
	if _, err := c.Open(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	// Zammad's search matches "sonde:SND-7" inside "[sonde:SND-70]" too.
	if key, err := c.Find(context.Background(), nt); err != nil || key != "" {
		t.Errorf("Find = %q, %v; want nothing", key, err)
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	key, err := newConn(t, settings(f.srv.URL)).Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	s := settings(f.srv.URL)
	s.Secret = "wrong-token-that-must-not-leak"
	c := newConn(t, s)
	ctx := context.Background()
	_, e1 := c.Open(ctx, nt)
	_, e2 := c.Find(ctx, nt)
	e3 := c.Comment(ctx, key, helpdesk.Summary{Marker: "m", Headline: "h"})
	e4 := c.Attach(ctx, key, helpdesktest.File(100))
	_, e5 := c.Has(ctx, key, "m")
	_, e6 := c.State(ctx, key)
	for i, err := range []error{e1, e2, e3, e4, e5, e6} {
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Errorf("call %d: %v; want HTTP 401", i+1, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-token-that-must-not-leak") {
			t.Errorf("call %d: the error carries the token: %v", i+1, err)
		}
	}
}

func TestStatusMapping(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	f.states[8] = fakeState{"solved", "closed"}
	f.states[9] = fakeState{"waiting for vendor", "pending reminder"}
	f.states[10] = fakeState{"archived", "merged"}
	c := newConn(t, settings(f.srv.URL))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stateID int
		owner   string
		want    helpdesk.State
	}{
		{1, "", helpdesk.State{Status: helpdesk.StatusOpen}},
		{2, "bob", helpdesk.State{Status: helpdesk.StatusOpen, Assignee: "bob"}},
		{3, "bob", helpdesk.State{Status: helpdesk.StatusOpen, Assignee: "bob"}},
		{7, "", helpdesk.State{Status: helpdesk.StatusOpen}},
		{4, "alice", helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "alice"}},
		{5, "", helpdesk.State{Status: helpdesk.StatusClosed}},
		{6, "", helpdesk.State{Status: helpdesk.StatusClosed}},
		{8, "carol", helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "carol"}},
		{9, "", helpdesk.State{Status: helpdesk.StatusOpen}},
		{10, "", helpdesk.State{Status: helpdesk.StatusClosed}},
	} {
		f.setState(key, tc.stateID, tc.owner)
		got, err := c.State(context.Background(), key)
		if err != nil || got != tc.want {
			t.Errorf("state %q, owner %q: %+v, %v; want %+v", f.states[tc.stateID].name, tc.owner, got, err, tc.want)
		}
	}
	if _, err := c.State(context.Background(), "../users/1"); err == nil {
		t.Error("State accepted a key that is not a ticket id")
	}
}

func TestAttachOverMaxUploadSendsNothing(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	s := settings(f.srv.URL)
	s.MaxUpload = 1000
	c := newConn(t, s)
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	before := f.count()
	opened := false
	fl := helpdesktest.File(1001)
	fl.Open = func() (io.ReadCloser, error) { opened = true; return nil, errors.New("not to be opened") }
	err = c.Attach(context.Background(), key, fl)
	if err == nil || !strings.Contains(err.Error(), "max_upload") {
		t.Errorf("Attach of 1001 bytes over a max_upload of 1000 = %v", err)
	}
	if opened || f.count() != before {
		t.Errorf("Attach opened the file (%v) or sent %d requests", opened, f.count()-before)
	}
}

func TestAttachOverZammadsLimit(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	c := newConn(t, settings(f.srv.URL))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Attach(context.Background(), key, helpdesktest.File(1<<20))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("Attach over the server's limit = %v; want HTTP 413", err)
	}
}

func TestAttachShortFile(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	c := newConn(t, settings(f.srv.URL))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	fl := helpdesktest.File(1000)
	fl.Size = 2000 // the file on disk is shorter than announced
	if err := c.Attach(context.Background(), key, fl); err == nil {
		t.Error("Attach of a file shorter than its Size succeeded")
	}
	if _, ok := f.Attachment(key, fl.Name); ok {
		t.Error("a truncated attachment reached the helpdesk")
	}
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	f := newFakeZammad(t, testToken, 1<<20)
	f.states[8] = fakeState{"solved", "closed"}
	c := newConn(t, settings(f.srv.URL))
	body := []byte(`{"ticket":{"id":81,"title":"Disk almost full [sonde:SND-7]","state":"closed","state_id":4,"owner":{"id":5,"login":"emma@chrispresso.com"},"owner_id":5},"article":{"id":104}}`)
	h := http.Header{"X-Hub-Signature": {sign("zammad-hook-secret", body)}, "X-Zammad-Trigger": {"sonde"}}
	key, st, err := c.Webhook(h, body)
	if err != nil || key != "81" || st != (helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "emma@chrispresso.com"}) {
		t.Errorf("Webhook = %q, %+v, %v", key, st, err)
	}

	custom := []byte(`{"ticket":{"id":82,"state":"solved","state_id":8,"owner":{"login":"-"}}}`)
	key, st, err = c.Webhook(http.Header{"X-Hub-Signature": {sign("zammad-hook-secret", custom)}}, custom)
	if err != nil || key != "82" || st != (helpdesk.State{Status: helpdesk.StatusResolved}) {
		t.Errorf("Webhook with an administrator's state = %q, %+v, %v", key, st, err)
	}

	for name, hdr := range map[string]string{
		"missing":        "",
		"other secret":   sign("another-secret", body),
		"no sha1= in it": strings.TrimPrefix(sign("zammad-hook-secret", body), "sha1="),
		"other body":     sign("zammad-hook-secret", custom),
		"not hex":        "sha1=zz",
	} {
		if _, _, err := c.Webhook(http.Header{"X-Hub-Signature": {hdr}}, body); !errors.Is(err, helpdesk.ErrUnsigned) {
			t.Errorf("signature %s: %v; want ErrUnsigned", name, err)
		}
	}
	s := settings(f.srv.URL)
	s.WebhookSecret = ""
	if _, _, err := newConn(t, s).Webhook(h, body); !errors.Is(err, helpdesk.ErrUnsigned) {
		t.Errorf("without a webhook_secret: %v; want ErrUnsigned", err)
	}
	bad := []byte(`{"ticket":{"id":"../1","state":"open"}}`)
	if _, _, err := c.Webhook(http.Header{"X-Hub-Signature": {sign("zammad-hook-secret", bad)}}, bad); err == nil || errors.Is(err, helpdesk.ErrUnsigned) {
		t.Errorf("a signed payload with a bad id: %v; want a payload error", err)
	}
}

package glpi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

var nt = helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full <on> host-7", Text: "Sonde opened this ticket.\nSee <https://sonde.example/t/SND-7>"}

func TestNewRefuses(t *testing.T) {
	for name, edit := range map[string]func(*helpdesk.Settings){
		"no secret":            func(s *helpdesk.Settings) { s.Secret = "" },
		"a queue not a number": func(s *helpdesk.Settings) { s.Queue = "Support" },
		"bad URL":              func(s *helpdesk.Settings) { s.URL = "glpi.example.com" },
	} {
		s := helpdesk.Settings{Config: helpdesk.Config{URL: "https://glpi.example.com"}, Secret: testUserToken}
		edit(&s)
		if _, err := New(s); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestOpenSetsCategoryAndFields(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, "", 1<<20)
	s := settings(f)
	s.AppToken = ""
	s.URL = f.root() + "/apirest.php/" // a URL to the API works as well as GLPI's root
	s.Fields["name"] = "a field must not replace the subject"
	c := newConn(t, s)
	ctx := context.Background()
	for _, tc := range []struct{ queue, want string }{{"", "4"}, {"9", "9"}, {"Sales", "4"}} {
		tt := nt
		tt.Queue = tc.queue
		key, err := c.Open(ctx, tt)
		if err != nil {
			t.Fatal(err)
		}
		tk := f.ticket(key)
		if tk.fields["itilcategories_id"] != tc.want || tk.fields["urgency"] != "4" || tk.fields["type"] != "1" {
			t.Errorf("queue %q: fields %v; want category %s", tc.queue, tk.fields, tc.want)
		}
		if tk.name != "Disk almost full &#60;on&#62; host-7 [sonde:SND-7]" || !strings.Contains(tk.content, "&#60;br&#62;See &#38;lt;https") {
			t.Errorf("name %q, content %q", tk.name, tk.content)
		}
		if want := f.root() + "/front/ticket.form.php?id=" + key; c.Link(key) != want {
			t.Errorf("Link = %q, want %q", c.Link(key), want)
		}
	}
	if key, err := c.Find(ctx, nt); err != nil || key == "" {
		t.Errorf("Find of a title GLPI keeps HTML-encoded = %q, %v", key, err)
	}
}

func TestFindIgnoresLookalikes(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	c := newConn(t, settings(f))
	other := nt
	other.Marker = "sonde:SND-70"
	if _, err := c.Open(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if key, err := c.Find(context.Background(), nt); err != nil || key != "" {
		t.Errorf("Find = %q, %v; want nothing", key, err)
	}
}

func TestSessionRenewedOnce(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	c := newConn(t, settings(f))
	ctx := context.Background()
	key, err := c.Open(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	f.expire()
	if err := c.Comment(ctx, key, helpdesk.Summary{Marker: "sonde:m1", Headline: "h"}); err != nil {
		t.Fatalf("Comment after GLPI forgot the session: %v", err)
	}
	if inits, _ := f.counts(); inits != 2 {
		t.Errorf("%d initSession calls; want 2", inits)
	}
	f.expire()
	f.mu.Lock()
	f.forget = true
	f.mu.Unlock()
	_, err = c.Has(ctx, key, "sonde:m1")
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("Has when every session is refused = %v; want HTTP 401", err)
	}
	if inits, _ := f.counts(); inits != 3 {
		t.Errorf("%d initSession calls; want 3 (one new session for the refused call)", inits)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tok := range f.issued {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("the error carries a session token: %v", err)
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	ctx := context.Background()
	key, err := newConn(t, settings(f)).Open(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*helpdesk.Settings){
		"user token": func(s *helpdesk.Settings) { s.Secret = "wrong-user-token-must-not-leak" },
		"app token":  func(s *helpdesk.Settings) { s.AppToken = "wrong-app-token-must-not-leak" },
	} {
		s := settings(f)
		edit(&s)
		c := newConn(t, s)
		_, e1 := c.Open(ctx, nt)
		_, e2 := c.Find(ctx, nt)
		e3 := c.Comment(ctx, key, helpdesk.Summary{Marker: "m", Headline: "h"})
		e4 := c.Attach(ctx, key, helpdesktest.File(100))
		_, e5 := c.Has(ctx, key, "m")
		_, e6 := c.State(ctx, key)
		for i, err := range []error{e1, e2, e3, e4, e5, e6} {
			var se *helpdesk.StatusError
			if !errors.As(err, &se) || se.Code/100 != 4 {
				t.Errorf("%s, call %d: %v; want GLPI's refusal", name, i+1, err)
			} else if strings.Contains(err.Error(), "must-not-leak") {
				t.Errorf("%s, call %d: the error carries the token: %v", name, i+1, err)
			}
		}
	}
}

func TestStatusMapping(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	c := newConn(t, settings(f))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status   int
		assignee string
		want     helpdesk.State
	}{
		{1, "", helpdesk.State{Status: helpdesk.StatusOpen}},
		{2, "bob", helpdesk.State{Status: helpdesk.StatusOpen, Assignee: "bob"}},
		{3, "bob", helpdesk.State{Status: helpdesk.StatusOpen, Assignee: "bob"}},
		{4, "", helpdesk.State{Status: helpdesk.StatusOpen}},
		{5, "alice", helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "alice"}},
		{6, "alice", helpdesk.State{Status: helpdesk.StatusClosed, Assignee: "alice"}},
	} {
		f.set(key, tc.status, tc.assignee)
		if got, err := c.State(context.Background(), key); err != nil || got != tc.want {
			t.Errorf("status %d: %+v, %v; want %+v", tc.status, got, err, tc.want)
		}
	}
	f.set(key, 7, "")
	if _, err := c.State(context.Background(), key); err == nil {
		t.Error("an unknown status was mapped")
	}
	if _, err := c.State(context.Background(), "1/../../User"); err == nil {
		t.Error("State accepted a key that is not a ticket id")
	}
}

func TestAttachOverMaxUploadSendsNothing(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	s := settings(f)
	s.MaxUpload = 1000
	c := newConn(t, s)
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	_, before := f.counts()
	opened := false
	fl := helpdesktest.File(1001)
	fl.Open = func() (io.ReadCloser, error) { opened = true; return nil, errors.New("not to be opened") }
	if err := c.Attach(context.Background(), key, fl); err == nil || !strings.Contains(err.Error(), "max_upload") {
		t.Errorf("Attach of 1001 bytes over a max_upload of 1000 = %v", err)
	}
	if _, after := f.counts(); opened || after != before {
		t.Errorf("Attach opened the file (%v) or sent %d requests", opened, after-before)
	}
}

func TestAttachOverGLPIsLimit(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	c := newConn(t, settings(f))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Attach(context.Background(), key, helpdesktest.File(1<<20))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("Attach over the server's limit = %v; want HTTP 413", err)
	}
	if _, ok := f.Attachment(key, helpdesktest.File(1).Name); ok {
		t.Error("the refused file is on the ticket")
	}
}

func TestAttachReopensTheFileForANewSession(t *testing.T) {
	f := newFakeGLPI(t, testUserToken, testAppToken, 1<<20)
	c := newConn(t, settings(f))
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	f.expire()
	opens := 0
	fl := helpdesktest.File(5000)
	open := fl.Open
	fl.Open = func() (io.ReadCloser, error) { opens++; return open() }
	if err := c.Attach(context.Background(), key, fl); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Attachment(key, fl.Name); !ok || opens != 2 {
		t.Errorf("attachment on the ticket: %v, after %d opens of the file; want 2", ok, opens)
	}
}

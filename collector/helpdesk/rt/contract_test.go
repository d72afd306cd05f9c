// Contract tests of the RT connector against fakeRT (fake_test.go), which
// enforces Request Tracker 5.0.3's REST2 API as RT::REST2 documents it
// (docs.bestpractical.com/rt/5.0.3/RT/REST2.html: "Creating Tickets",
// "Replying/Commenting Tickets", "Add Attachments", "Paging", "Fields",
// "Authentication Methods") and as the real RT answered on loopback.
package rt

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

// serve starts f and makes a connector to it with the fake's token,
// queue General, changed by mod.
func serve(t *testing.T, f *fakeRT, mod func(*helpdesk.Settings)) helpdesk.Connector {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.base = srv.URL
	s := helpdesk.Settings{Config: helpdesk.Config{Name: "rt", Kind: "rt", URL: srv.URL, Queue: "General"}, Secret: f.token}
	if mod != nil {
		mod(&s)
	}
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.(*Connector).c.HTTP.CloseIdleConnections)
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var ticket = helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full on host-7", Text: "Sonde opened this ticket."}

func TestContract(t *testing.T) {
	f := newFakeRT(t)
	helpdesktest.Conformance(t, serve(t, f, nil), f, 3<<20)
	if got := f.count(http.MethodGet, "/REST/2.0/attachment/1"); got == 0 {
		t.Errorf("Has never read a comment's content (GET /attachment/N)")
	}
}

func TestContractBasicAuth(t *testing.T) {
	f := newFakeRT(t)
	f.user, f.password = "sonde", "pw-of-sonde-42"
	c := serve(t, f, func(s *helpdesk.Settings) { s.User, s.Secret = f.user, f.password })
	helpdesktest.Conformance(t, c, f, 64<<10)
}

func TestRegistered(t *testing.T) {
	if !slices.Contains(helpdesk.Kinds(), "rt") {
		t.Fatalf("kinds %v lack rt", helpdesk.Kinds())
	}
}

// TestSecretNeverInErrors makes the fake echo the Authorization header in
// its 401: neither the token, nor the password, nor Basic's base64 of it
// may reach an error's text.
func TestSecretNeverInErrors(t *testing.T) {
	for _, user := range []string{"", "sonde"} {
		f := newFakeRT(t)
		secret := "wrong-secret-" + strconv.Itoa(len(user))
		c := serve(t, f, func(s *helpdesk.Settings) { s.User, s.Secret = user, secret })
		_, err := c.Open(ctx(t), ticket)
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Fatalf("user %q: Open with a wrong secret: %v; want HTTP 401", user, err)
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), basic) {
			t.Errorf("user %q: the error shows the credential: %v", user, err)
		}
		if !strings.Contains(err.Error(), "[credential]") {
			t.Errorf("user %q: the fake echoed the header, yet the error shows no scrubbed credential: %v", user, err)
		}
	}
}

func TestStates(t *testing.T) {
	f := newFakeRT(t)
	c := serve(t, f, nil)
	key, err := c.Open(ctx(t), ticket)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ status, owner, want, assignee string }{
		{"new", "", helpdesk.StatusOpen, ""},
		{"open", "alice", helpdesk.StatusOpen, "alice"},
		{"stalled", "Nobody", helpdesk.StatusOpen, ""},
		{"resolved", "bob", helpdesk.StatusResolved, "bob"},
		{"rejected", "bob", helpdesk.StatusClosed, "bob"},
		{"deleted", "", helpdesk.StatusClosed, ""},
	} {
		f.set(key, tc.status, tc.owner)
		st, err := c.State(ctx(t), key)
		if err != nil || st.Status != tc.want || st.Assignee != tc.assignee {
			t.Errorf("RT status %q owner %q: State = %+v, %v; want %s, %q", tc.status, tc.owner, st, err, tc.want, tc.assignee)
		}
	}
}

func TestOpenSendsFields(t *testing.T) {
	f := newFakeRT(t)
	c := serve(t, f, func(s *helpdesk.Settings) {
		s.Queue = ""
		s.Fields = map[string]string{"Priority": "50", "CF.Severity": "High", "CF.{Customer ID}": "42"}
	})
	if _, err := c.Open(ctx(t), ticket); err == nil || !strings.Contains(err.Error(), "no queue") {
		t.Fatalf("Open without a queue: %v; want an error naming the queue", err)
	}
	nt := ticket
	nt.Queue = "General"
	if _, err := c.Open(ctx(t), nt); err != nil {
		t.Fatal(err)
	}
	body := f.tickets[0].body
	cf, _ := body["CustomFields"].(map[string]any)
	if body["Priority"] != "50" || body["Subject"] != nt.Subject() || body["ContentType"] != "text/plain" || cf["Severity"] != "High" || cf["Customer ID"] != "42" {
		t.Errorf("the ticket as posted: %v", body)
	}
	nt.Queue = "Elsewhere"
	var se *helpdesk.StatusError
	if _, err := c.Open(ctx(t), nt); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Errorf("Open in a queue RT refuses: %v; want its 403", err)
	}
	for _, k := range []string{"Subject", "Queue", "CF."} {
		if _, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: "http://rt.invalid", Fields: map[string]string{k: "x"}}, Secret: "t0ken"}); err == nil {
			t.Errorf("New accepted the field %q", k)
		}
	}
	if _, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: "http://rt.invalid"}}); err == nil {
		t.Errorf("New accepted no secret")
	}
}

// TestFindIgnoresNearMisses: TicketSQL's LIKE finds SND-70 for SND-7.
func TestFindIgnoresNearMisses(t *testing.T) {
	f := newFakeRT(t)
	c := serve(t, f, nil)
	other := ticket
	other.Marker = "sonde:SND-70"
	if _, err := c.Open(ctx(t), other); err != nil {
		t.Fatal(err)
	}
	if key, err := c.Find(ctx(t), ticket); err != nil || key != "" {
		t.Fatalf("Find(SND-7) with only SND-70 there = %q, %v", key, err)
	}
	quoted := ticket
	quoted.Marker = `sonde:it's\here`
	want, err := c.Open(ctx(t), quoted)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := c.Find(ctx(t), quoted); err != nil || key != want {
		t.Fatalf("Find of a marker with a quote and a backslash = %q, %v; want %q", key, err, want)
	}
}

func TestUploadLimits(t *testing.T) {
	f := newFakeRT(t)
	f.limit = 1 << 20
	c := serve(t, f, func(s *helpdesk.Settings) { s.MaxUpload = 4 << 20 })
	key, err := c.Open(ctx(t), ticket)
	if err != nil {
		t.Fatal(err)
	}
	opened := false
	file := func(size int64) helpdesk.File {
		return helpdesk.File{Name: "sonde-SND-7-bundle-1.zip", Type: "application/zip", Size: size, Open: func() (io.ReadCloser, error) {
			opened = true
			return io.NopCloser(io.LimitReader(zeros{}, size)), nil
		}}
	}
	err = c.Attach(ctx(t), key, file(4<<20+1))
	if err == nil || !strings.Contains(err.Error(), "upload limit") || opened || f.count(http.MethodPost, "/REST/2.0/ticket/"+key+"/comment") != 0 {
		t.Fatalf("Attach over max_upload: %v (file opened: %v); want a refusal before sending", err, opened)
	}
	var se *helpdesk.StatusError
	if err := c.Attach(ctx(t), key, file(2<<20)); !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Attach over what RT takes: %v; want its 413", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestKeysAreTicketNumbers(t *testing.T) {
	f := newFakeRT(t)
	c := serve(t, f, nil)
	for _, key := range []string{"", "1/../../users", "1?x=y", "-1", "1 "} {
		if err := c.Comment(ctx(t), key, helpdesk.Summary{Marker: "m"}); err == nil {
			t.Errorf("Comment(%q) sent", key)
		}
		if _, err := c.State(ctx(t), key); err == nil {
			t.Errorf("State(%q) sent", key)
		}
		if _, err := c.Has(ctx(t), key, "m"); err == nil {
			t.Errorf("Has(%q) sent", key)
		}
	}
	if len(f.requests) != 0 {
		t.Errorf("requests went out: %v", f.requests)
	}
	if got := c.Link("12"); got != f.base+"/Ticket/Display.html?id=12" {
		t.Errorf("Link = %q", got)
	}
}

// TestHasPagesBounded: file names are found pages back; comment bodies
// are read newest first, maxBodies at most.
func TestHasPagesBounded(t *testing.T) {
	f := newFakeRT(t)
	c := serve(t, f, nil)
	key, err := c.Open(ctx(t), ticket)
	if err != nil {
		t.Fatal(err)
	}
	f.parts = append(f.parts, &fakePart{ticket: 1, typ: "text/html", text: "<p>old sonde:SND-7/bundle-1/comment</p>"})
	for i := range 250 {
		f.parts = append(f.parts, &fakePart{ticket: 1, filename: "file-" + strconv.Itoa(i), typ: "application/zip", size: 10})
	}
	if has, err := c.Has(ctx(t), key, "file-0"); err != nil || !has {
		t.Fatalf("Has(the oldest file, 3 pages back) = %v, %v", has, err)
	}
	if has, err := c.Has(ctx(t), key, "sonde:SND-7/bundle-1/comment"); err != nil || !has {
		t.Fatalf("Has(an old comment behind 250 files) = %v, %v", has, err)
	}
	for range maxBodies + 20 {
		f.parts = append(f.parts, &fakePart{ticket: 1, typ: "text/plain", text: "a reply"})
	}
	f.requests = nil
	if has, err := c.Has(ctx(t), key, "sonde:SND-7/bundle-1/comment"); err != nil || has {
		t.Fatalf("Has(a comment behind %d newer ones) = %v, %v; want false: it reads %d bodies at most", maxBodies+20, has, err, maxBodies)
	}
	reads := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, "GET /REST/2.0/attachment/") {
			reads++
		}
	}
	if reads != maxBodies {
		t.Errorf("Has read %d comment bodies; want %d", reads, maxBodies)
	}
}

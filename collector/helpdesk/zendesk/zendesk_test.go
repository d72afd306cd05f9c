package zendesk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func file(t *testing.T, name string, size int64, mustNotOpen bool) helpdesk.File {
	return helpdesk.File{Name: name, Type: "application/zip", Size: size, Open: func() (io.ReadCloser, error) {
		if mustNotOpen {
			t.Error("the file was opened")
		}
		return io.NopCloser(bytes.NewReader(make([]byte, size))), nil
	}}
}

func openOne(t *testing.T, c helpdesk.Connector, marker string) string {
	t.Helper()
	key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: marker, Title: "Disk full", Text: "x"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return key
}

func TestSecretNeverInErrors(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	good := connect(t, srv, nil)
	key := openOne(t, good, "sonde:SND-1")
	const wrong = "zd-wrong-token-value"
	c := connect(t, srv, func(s *helpdesk.Settings) { s.Secret = wrong })
	basic := base64.StdEncoding.EncodeToString([]byte(fakeEmail + "/token:" + wrong))
	ctx := context.Background()
	_, errOpen := c.Open(ctx, helpdesk.NewTicket{Marker: "sonde:SND-2", Title: "t"})
	_, errState := c.State(ctx, key)
	errAttach := c.Attach(ctx, key, file(t, "a.zip", 100, false))
	for _, err := range []error{errOpen, errState, errAttach} {
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Fatalf("with a wrong token: %v; want HTTP 401", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), basic) {
			t.Errorf("the error carries the credential: %v", err)
		}
	}
}

func TestStatuses(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	key := openOne(t, c, "sonde:SND-2")
	for _, tc := range []struct{ status, assignee, want string }{
		{"new", "", helpdesk.StatusOpen},
		{"open", "Bob", helpdesk.StatusOpen},
		{"pending", "Bob", helpdesk.StatusOpen},
		{"hold", "", helpdesk.StatusOpen},
		{"solved", "Alice", helpdesk.StatusResolved},
		{"closed", "Carol", helpdesk.StatusClosed},
	} {
		fake.setStatus(key, tc.status, tc.assignee)
		st, err := c.State(context.Background(), key)
		if err != nil || st.Status != tc.want || st.Assignee != tc.assignee {
			t.Errorf("status %q, assignee %q: State = %+v, %v; want %s", tc.status, tc.assignee, st, err, tc.want)
		}
	}
	fake.sideload = false
	fake.setStatus(key, "open", "Dora")
	if st, err := c.State(context.Background(), key); err != nil || st.Assignee != "Dora" {
		t.Errorf("without side-loaded users: State = %+v, %v; want Dora from /users", st, err)
	}
	fake.setStatus(key, "deleted", "")
	if _, err := c.State(context.Background(), key); err == nil || !strings.Contains(err.Error(), `"deleted"`) {
		t.Errorf("an unknown status: %v", err)
	}
}

func TestAttachOverTheLimitSendsNothing(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, func(s *helpdesk.Settings) { s.MaxUpload = 1000 })
	key := openOne(t, c, "sonde:SND-3")
	err := c.Attach(context.Background(), key, file(t, "big.zip", 1001, true))
	if err == nil || !strings.Contains(err.Error(), "1000-byte limit") {
		t.Fatalf("Attach of 1001 bytes with max_upload 1000: %v", err)
	}
	if fake.posts != 0 {
		t.Errorf("%d uploads reached the helpdesk", fake.posts)
	}
}

func TestHelpdeskRefusesTooBig(t *testing.T) {
	fake, srv := newFake(t, 1000)
	c := connect(t, srv, nil)
	key := openOne(t, c, "sonde:SND-4")
	err := c.Attach(context.Background(), key, file(t, "big.zip", 5000, false))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Attach over the account's limit: %v; want HTTP 413", err)
	}
	if _, ok := fake.Attachment(key, "big.zip"); ok {
		t.Error("the refused file is on the ticket")
	}
}

// TestFakeEnforces checks the fake refuses what Zendesk refuses, so that
// the contract test means something.
func TestFakeEnforces(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	key := openOne(t, connect(t, srv, nil), "sonde:SND-5")
	for _, tc := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"POST", "/api/v2/uploads.json?filename=a.zip", "multipart/form-data; boundary=x", "--x--\r\n", http.StatusBadRequest},
		{"POST", "/api/v2/uploads.json", "application/binary", "abc", http.StatusBadRequest},
		{"POST", "/api/v2/tickets.json", "text/plain", `{"ticket":{}}`, http.StatusUnsupportedMediaType},
		{"POST", "/api/v2/tickets.json", "application/json", `{"ticket":{"subject":"s"}}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v2/tickets/" + key + ".json", "application/json", `{"ticket":{"comment":{"body":"b","uploads":["nope"]}}}`, http.StatusUnprocessableEntity},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.SetBasicAuth(fakeEmail+"/token", fakeToken)
		req.Header.Set("Content-Type", tc.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (%s): HTTP %d; want %d", tc.method, tc.path, tc.ctype, resp.StatusCode, tc.want)
		}
	}
}

func TestFindIsExact(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	openOne(t, c, "sonde:SND-60")
	key := openOne(t, c, "sonde:SND-6")
	for _, all := range []bool{false, true} {
		fake.listAll = all // a list that ignores the filter must not fool Find
		for marker, want := range map[string]string{"sonde:SND-6": key, "sonde:SND-61": ""} {
			if got, err := c.Find(context.Background(), helpdesk.NewTicket{Marker: marker}); err != nil || got != want {
				t.Errorf("Find(%s) = %q, %v; want %q", marker, got, err, want)
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	base := helpdesk.Config{URL: "https://x.zendesk.com", User: "u@example.com"}
	for name, s := range map[string]helpdesk.Settings{
		"no token":    {Config: base},
		"bad group":   {Config: helpdesk.Config{URL: base.URL, User: base.User, Queue: "Support"}, Secret: "s"},
		"subject set": {Config: helpdesk.Config{URL: base.URL, User: base.User, Fields: map[string]string{"subject": "x"}}, Secret: "s"},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	c, err := New(helpdesk.Settings{Config: base, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Link("42"); got != "https://x.zendesk.com/agent/tickets/42" {
		t.Errorf("Link = %q", got)
	}
	if _, err := c.Has(context.Background(), "42/../../users", "m"); err == nil {
		t.Error("Has accepted a key that is not a ticket id")
	}
}

func sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	if _, ok := connect(t, srv, nil).(helpdesk.Hooked); ok {
		t.Error("a connector without a webhook secret is Hooked, so its tickets would not be polled")
	}
	h, ok := connect(t, srv, func(s *helpdesk.Settings) { s.WebhookSecret = "dGhpc19zZWNyZXQ" }).(helpdesk.Hooked)
	if !ok {
		t.Fatal("a connector with a webhook secret is not Hooked")
	}
	const ts = "2026-05-01T10:00:00Z"
	headers := func(sig, ts string) http.Header {
		return http.Header{"X-Zendesk-Webhook-Signature": {sig}, "X-Zendesk-Webhook-Signature-Timestamp": {ts}}
	}
	for body, want := range map[string]helpdesk.State{
		`{"ticket_id": "35436", "status": "Solved", "assignee": "Alice"}`: {Status: helpdesk.StatusResolved, Assignee: "Alice"},
		`{"ticket_id": 35436, "status": "On-hold", "assignee": ""}`:       {Status: helpdesk.StatusOpen},
		`{"ticket_id": 35436, "status": "closed"}`:                        {Status: helpdesk.StatusClosed},
	} {
		key, st, err := h.Webhook(headers(sign("dGhpc19zZWNyZXQ", ts, []byte(body)), ts), []byte(body))
		if err != nil || key != "35436" || st != want {
			t.Errorf("signed %s: %q %+v %v; want %+v", body, key, st, err, want)
		}
	}
	body := []byte(`{"ticket_id": "35436", "status": "solved", "assignee": "Alice"}`)
	good := sign("dGhpc19zZWNyZXQ", ts, body)
	for name, hd := range map[string]http.Header{
		"missing":          {},
		"no timestamp":     headers(good, ""),
		"other timestamp":  headers(good, "2026-05-01T10:00:01Z"),
		"wrong secret":     headers(sign("other", ts, body), ts),
		"not base64":       headers("!!"+good, ts),
		"signed body only": headers(sign("dGhpc19zZWNyZXQ", "", body), ts),
	} {
		if _, _, err := h.Webhook(hd, body); !errors.Is(err, helpdesk.ErrUnsigned) {
			t.Errorf("%s: %v; want ErrUnsigned", name, err)
		}
	}
	bad := []byte(`{"ticket_id": "35436", "status": "Résolu"}`)
	if _, _, err := h.Webhook(headers(sign("dGhpc19zZWNyZXQ", ts, bad), ts), bad); err == nil || errors.Is(err, helpdesk.ErrUnsigned) {
		t.Errorf("a signed call with an unknown status: %v; want a plain error", err)
	}
}

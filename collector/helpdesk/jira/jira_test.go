package jira

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func smallFile(t *testing.T, name string, size int64, mustNotOpen bool) helpdesk.File {
	return helpdesk.File{Name: name, Type: "application/zip", Size: size, Open: func() (io.ReadCloser, error) {
		if mustNotOpen {
			t.Error("the file was opened")
		}
		return io.NopCloser(bytes.NewReader(make([]byte, size))), nil
	}}
}

func TestSecretNeverInErrors(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	const wrong = "ATATT-wrong-token-value"
	c := connect(t, srv, func(s *helpdesk.Settings) { s.Secret = wrong })
	fake.issues["OPS-1"] = &fakeIssue{project: fakeProject, attachments: map[string]string{}}
	basic := base64.StdEncoding.EncodeToString([]byte(fakeUser + ":" + wrong))
	ctx := context.Background()
	_, errOpen := c.Open(ctx, helpdesk.NewTicket{Marker: "sonde:SND-1", Title: "t"})
	_, errState := c.State(ctx, "OPS-1")
	errAttach := c.Attach(ctx, "OPS-1", smallFile(t, "a.zip", 100, false))
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
	key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: "sonde:SND-2", Title: "t", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, category, assignee, want string }{
		{"To Do", "new", "", helpdesk.StatusOpen},
		{"Waiting for support", "indeterminate", "Bob", helpdesk.StatusOpen},
		{"Done", "done", "Alice", helpdesk.StatusResolved},
		{"Resolved", "done", "", helpdesk.StatusResolved},
		{"Closed", "done", "Carol", helpdesk.StatusClosed},
	} {
		fake.setStatus(key, tc.name, tc.category, tc.assignee)
		st, err := c.State(context.Background(), key)
		if err != nil || st.Status != tc.want || st.Assignee != tc.assignee {
			t.Errorf("status %q (%s), assignee %q: State = %+v, %v; want %s", tc.name, tc.category, tc.assignee, st, err, tc.want)
		}
	}
}

func TestAttachOverTheLimitSendsNothing(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, func(s *helpdesk.Settings) { s.MaxUpload = 1000 })
	fake.issues["OPS-1"] = &fakeIssue{project: fakeProject, attachments: map[string]string{}}
	err := c.Attach(context.Background(), "OPS-1", smallFile(t, "big.zip", 1001, true))
	if err == nil || !strings.Contains(err.Error(), "1000-byte limit") {
		t.Fatalf("Attach of 1001 bytes with max_upload 1000: %v", err)
	}
	if fake.uploads != 0 {
		t.Errorf("%d uploads reached the helpdesk", fake.uploads)
	}
}

func TestHelpdeskRefusesTooBig(t *testing.T) {
	fake, srv := newFake(t, 1000)
	c := connect(t, srv, nil)
	fake.issues["OPS-1"] = &fakeIssue{project: fakeProject, attachments: map[string]string{}}
	err := c.Attach(context.Background(), "OPS-1", smallFile(t, "big.zip", 5000, false))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Attach over the site's limit: %v; want HTTP 413", err)
	}
}

// TestFakeEnforces checks the fake refuses what Jira refuses, so that the
// contract test means something.
func TestFakeEnforces(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	fake.issues["OPS-1"] = &fakeIssue{project: fakeProject, attachments: map[string]string{}}
	for _, tc := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"POST", "/rest/api/3/issue/OPS-1/attachments", "multipart/form-data; boundary=x", "--x--\r\n", http.StatusForbidden},
		{"POST", "/rest/api/3/issue", "text/plain", `{"fields":{}}`, http.StatusUnsupportedMediaType},
		{"POST", "/rest/api/3/issue", "application/json", `{"fields":{"project":{"key":"OPS"},"summary":"s","issuetype":{"name":"Task"},"description":"plain"}}`, http.StatusBadRequest},
		{"GET", "/rest/api/3/search?jql=x", "", "", http.StatusGone},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.SetBasicAuth(fakeUser, fakeToken)
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
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

func TestLongTitleKeepsTheMarker(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	nt := helpdesk.NewTicket{Marker: "sonde:SND-9", Title: strings.Repeat("très long ", 40), Text: "line one\nline two\n\nsecond paragraph"}
	other := nt
	other.Marker = "sonde:SND-90"
	if _, err := c.Open(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatalf("Open with a 400-character title: %v", err)
	}
	if got, err := c.Find(context.Background(), nt); err != nil || got != key {
		t.Fatalf("Find = %q, %v; want %q", got, err, key)
	}
	if s := fake.issues[key].summary; !strings.HasSuffix(s, " [sonde:SND-9]") {
		t.Errorf("summary %q lost its marker", s)
	}
	other.Marker = "sonde:SND-91"
	if got, err := c.Find(context.Background(), other); err != nil || got != "" {
		t.Errorf("Find of a marker no issue has = %q, %v; want none", got, err)
	}
}

func TestNewRefuses(t *testing.T) {
	for name, s := range map[string]helpdesk.Settings{
		"no token":    {Config: helpdesk.Config{URL: "https://x.atlassian.net", User: "u", Queue: "OPS"}},
		"no project":  {Config: helpdesk.Config{URL: "https://x.atlassian.net", User: "u"}, Secret: "s"},
		"bad URL":     {Config: helpdesk.Config{URL: "x.atlassian.net", User: "u", Queue: "OPS"}, Secret: "s"},
		"summary set": {Config: helpdesk.Config{URL: "https://x.atlassian.net", User: "u", Queue: "OPS", Fields: map[string]string{"summary": "x"}}, Secret: "s"},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	c, _ := New(helpdesk.Settings{Config: helpdesk.Config{URL: "https://x.atlassian.net/", User: "u", Queue: "OPS"}, Secret: "s"})
	if got := c.Link("OPS-7"); got != "https://x.atlassian.net/browse/OPS-7" {
		t.Errorf("Link = %q", got)
	}
	if _, err := c.State(context.Background(), "../admin"); err == nil {
		t.Error("State accepted a key that is not one")
	}
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	if _, ok := connect(t, srv, nil).(helpdesk.Hooked); ok {
		t.Error("a connector without a webhook secret is Hooked, so its issues would not be polled")
	}
	c := connect(t, srv, func(s *helpdesk.Settings) { s.WebhookSecret = "whsec-jira" })
	h, ok := c.(helpdesk.Hooked)
	if !ok {
		t.Fatal("a connector with a webhook secret is not Hooked")
	}
	body := []byte(`{"webhookEvent":"jira:issue_updated","issue":{"key":"OPS-3","fields":{"status":{"name":"Done","statusCategory":{"key":"done"}},"assignee":{"displayName":"Alice"}}}}`)
	hd := http.Header{"X-Hub-Signature": {sign("whsec-jira", body)}}
	key, st, err := h.Webhook(hd, body)
	if err != nil || key != "OPS-3" || st.Status != helpdesk.StatusResolved || st.Assignee != "Alice" {
		t.Fatalf("signed webhook: %q %+v %v", key, st, err)
	}
	for name, hd := range map[string]http.Header{
		"missing":     {},
		"wrong key":   {"X-Hub-Signature": {sign("other", body)}},
		"no prefix":   {"X-Hub-Signature": {strings.TrimPrefix(sign("whsec-jira", body), "sha256=")}},
		"other body":  {"X-Hub-Signature": {sign("whsec-jira", append(body, ' '))}},
		"sha1 method": {"X-Hub-Signature": {"sha1=" + strings.TrimPrefix(sign("whsec-jira", body), "sha256=")}},
	} {
		if _, _, err := h.Webhook(hd, body); !errors.Is(err, helpdesk.ErrUnsigned) {
			t.Errorf("%s signature: %v; want ErrUnsigned", name, err)
		}
	}
	noIssue := []byte(`{"webhookEvent":"project_created"}`)
	if _, _, err := h.Webhook(http.Header{"X-Hub-Signature": {sign("whsec-jira", noIssue)}}, noIssue); err == nil || errors.Is(err, helpdesk.ErrUnsigned) {
		t.Errorf("a signed event without an issue: %v; want a plain error", err)
	}
}

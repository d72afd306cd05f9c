// The contract: Redmine's REST API documentation, https://www.redmine.org/projects/redmine/wiki/Rest_api
// (authentication by the X-Redmine-API-Key header, Content-Type required on
// POST and PUT, "Attaching files": POST /uploads.json as
// application/octet-stream, then the token in the issue's uploads, 422 over
// the maximum size), .../wiki/Rest_Issues (listing with project_id,
// status_id=* and the "~" contains operator, creating with project_id,
// subject, custom_fields; updating with notes; include=journals,attachments)
// and .../wiki/Rest_IssueStatuses (is_closed). The fake in fake_test.go
// enforces them; e2e/helpdesk runs the connector against a real Redmine 5.
package redmine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

func connect(t *testing.T, f *fake, fields map[string]string) *Connector {
	t.Helper()
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: f.srv.URL, Queue: "sonde", Fields: fields}, Secret: f.key})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		oldStatus bool
		fields    map[string]string
	}{
		{"redmine 5, textile", false, nil},
		{"statuses without is_closed, markdown", true, map[string]string{"text_formatting": "common_mark", "tracker_id": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.oldStatus = tc.oldStatus
			helpdesktest.Conformance(t, connect(t, f, tc.fields), f, 3<<20)
		})
	}
}

func TestOpenSendsFieldsAndCustomFields(t *testing.T) {
	f := newFake(t)
	c := connect(t, f, map[string]string{"tracker_id": "2", "priority_id": " 4", "cf_3": "host-7", "is_private": "0"})
	key, err := c.Open(context.Background(), helpdesk.NewTicket{Ref: "SND-1", Marker: "sonde:SND-1", Title: "t", Text: "x", Queue: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.issues[1]
	if key != "1" || is.project != 2 {
		t.Fatalf("Open = %q in project %d; want 1 in ops (2)", key, is.project)
	}
	cf, _ := is.fields["custom_fields"].([]any)
	if is.fields["tracker_id"] != 2.0 || is.fields["priority_id"] != 4.0 || is.fields["is_private"] != "0" || len(cf) != 1 ||
		cf[0].(map[string]any)["id"] != 3.0 || cf[0].(map[string]any)["value"] != "host-7" || is.fields["description"] != "x" {
		t.Errorf("the issue got %v", is.fields)
	}
}

func TestOpenShortensALongTitleAndKeepsTheMarker(t *testing.T) {
	f := newFake(t)
	c := connect(t, f, nil)
	nt := helpdesk.NewTicket{Ref: "SND-2", Marker: "sonde:SND-2", Title: strings.Repeat("é", 300)}
	key, err := c.Open(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Find(context.Background(), nt); err != nil || got != key {
		t.Fatalf("Find = %q, %v; want %q", got, err, key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.issues[1].subject; len([]rune(s)) != 255 || !strings.HasSuffix(s, "… [sonde:SND-2]") {
		t.Errorf("subject of %d characters: %q", len([]rune(s)), s)
	}
}

func TestOpenWithoutAProject(t *testing.T) {
	f := newFake(t)
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: f.srv.URL}, Secret: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: "m", Title: "t"}); err == nil || !strings.Contains(err.Error(), "no project") {
		t.Fatalf("Open without a project: %v", err)
	}
	if len(f.requests()) != 0 {
		t.Errorf("it sent %v", f.requests())
	}
}

func TestFindWantsTheWholeMarkerAndClosedIssues(t *testing.T) {
	f := newFake(t)
	c := connect(t, f, nil)
	ctx := context.Background()
	seventy := helpdesk.NewTicket{Ref: "SND-70", Marker: "sonde:SND-70", Title: "other"}
	if _, err := c.Open(ctx, seventy); err != nil {
		t.Fatal(err)
	}
	seven := helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "this"}
	if key, err := c.Find(ctx, seven); err != nil || key != "" {
		t.Fatalf("Find(SND-7) with only SND-70's issue = %q, %v", key, err)
	}
	key, err := c.Open(ctx, seven)
	if err != nil {
		t.Fatal(err)
	}
	f.set(key, 5, "") // Closed
	if got, err := c.Find(ctx, seven); err != nil || got != key {
		t.Fatalf("Find of a closed issue = %q, %v; want %q", got, err, key)
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		status   int
		resolved string // resolved_status_ids
		want     string
	}{
		{1, "", helpdesk.StatusOpen}, {2, "", helpdesk.StatusOpen}, {3, "", helpdesk.StatusResolved},
		{4, "", helpdesk.StatusOpen}, {5, "", helpdesk.StatusClosed}, {6, "", helpdesk.StatusClosed},
		{3, "4", helpdesk.StatusOpen}, {4, "2, 4", helpdesk.StatusResolved}, {5, "4,5", helpdesk.StatusResolved}, {6, "4,5", helpdesk.StatusClosed},
	} {
		for _, old := range []bool{false, true} {
			f := newFake(t)
			f.oldStatus = old
			fields := map[string]string{}
			if tc.resolved != "" {
				fields["resolved_status_ids"] = tc.resolved
			}
			c := connect(t, f, fields)
			key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: "m", Title: "t"})
			if err != nil {
				t.Fatal(err)
			}
			f.set(key, tc.status, "Bob Smith")
			st, err := c.State(context.Background(), key)
			if err != nil || st.Status != tc.want || st.Assignee != "Bob Smith" {
				t.Errorf("status %d (resolved_status_ids %q, without is_closed %v): %+v, %v; want %s by Bob Smith", tc.status, tc.resolved, old, st, err, tc.want)
			}
		}
	}
}

func TestStatusesAreReadOnceWhenIssuesDoNotSay(t *testing.T) {
	f := newFake(t)
	f.oldStatus = true
	c := connect(t, f, nil)
	key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: "m", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.State(context.Background(), key); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(strings.Join(f.requests(), "\n"), "/issue_statuses.json"); n != 1 {
		t.Errorf("read the statuses %d times; want once", n)
	}
}

func TestCommentMarkup(t *testing.T) {
	s := helpdesk.Summary{Marker: "sonde:SND-3/comment", Headline: "Sonde bundle 1", Findings: []helpdesk.Finding{{Severity: "warning", Title: "a_b"}}}
	for formatting, want := range map[string]string{"": s.Textile(), "textile": s.Textile(), "markdown": s.Markdown(), "common_mark": s.Markdown()} {
		f := newFake(t)
		c := connect(t, f, map[string]string{"text_formatting": formatting})
		key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: "m", Title: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Comment(context.Background(), key, s); err != nil {
			t.Fatal(err)
		}
		if got := f.Comments(key); len(got) != 1 || got[0] != want {
			t.Errorf("text_formatting %q: the note is %q; want %q", formatting, got, want)
		}
	}
}

func TestSecretNeverInAnError(t *testing.T) {
	f := newFake(t)
	secret := "wrong-key-5f1d2c3b4a"
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: f.srv.URL, Queue: "sonde"}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	file := helpdesk.File{Name: "f.zip", Size: 3, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }}
	_, errOpen := c.Open(ctx, helpdesk.NewTicket{Marker: "m", Title: "t"})
	_, errFind := c.Find(ctx, helpdesk.NewTicket{Marker: "m"})
	_, errHas := c.Has(ctx, "1", "m")
	_, errState := c.State(ctx, "1")
	for i, err := range []error{errOpen, errFind, c.Comment(ctx, "1", helpdesk.Summary{}), c.Attach(ctx, "1", file), errHas, errState} {
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != 401 {
			t.Errorf("call %d: %v; want HTTP 401", i, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("call %d: the error carries the key: %v", i, err)
		}
	}
}

func TestUploadLimits(t *testing.T) {
	f := newFake(t)
	f.maxSize = 1 << 20
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: f.srv.URL, Queue: "sonde", MaxUpload: 2 << 20}, Secret: f.key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key, err := c.Open(ctx, helpdesk.NewTicket{Marker: "m", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	file := func(size int) helpdesk.File {
		return helpdesk.File{Name: "big.zip", Size: int64(size), Open: func() (io.ReadCloser, error) {
			opened++
			return io.NopCloser(bytes.NewReader(make([]byte, size))), nil
		}}
	}
	before := len(f.requests())
	err = c.Attach(ctx, key, file(2<<20+1))
	if err == nil || !strings.Contains(err.Error(), "max_upload") || opened != 0 || len(f.requests()) != before {
		t.Fatalf("a file over max_upload: %v, opened %d times, %d requests; want refused before sending", err, opened, len(f.requests())-before)
	}
	err = c.Attach(ctx, key, file(1<<20+1))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != 422 || !strings.Contains(err.Error(), "maximum attachment size") {
		t.Fatalf("a file over Redmine's own limit: %v; want its 422 explained", err)
	}
	if err := c.Attach(ctx, key, file(1<<20)); err != nil {
		t.Fatalf("a file at Redmine's limit: %v", err)
	}
}

func TestAttachmentNamesAsRedmineStoresThem(t *testing.T) {
	f := newFake(t)
	c := connect(t, f, nil)
	ctx := context.Background()
	key, err := c.Open(ctx, helpdesk.NewTicket{Marker: "m", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	name := `sonde:SND-7 "bundle"?.zip`
	if err := c.Attach(ctx, key, helpdesk.File{Name: name, Size: 1, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Attachment(key, "sonde_SND-7 _bundle_.zip"); !ok {
		t.Fatalf("the fake stored no sanitized name")
	}
	if has, err := c.Has(ctx, key, name); err != nil || !has {
		t.Errorf("Has(%q) = %v, %v; want true", name, has, err)
	}
	if has, err := c.Has(ctx, key, "sonde:SND-8.zip"); err != nil || has {
		t.Errorf("Has(another name) = %v, %v; want false", has, err)
	}
}

func TestBadKeysAreRefusedBeforeSending(t *testing.T) {
	f := newFake(t)
	c := connect(t, f, nil)
	for _, key := range []string{"", "1/../../users", "1?x=1", "-1", "abc"} {
		if err := c.Comment(context.Background(), key, helpdesk.Summary{}); err == nil || !strings.Contains(err.Error(), "not an issue number") {
			t.Errorf("Comment(%q): %v", key, err)
		}
	}
	if len(f.requests()) != 0 {
		t.Errorf("sent %v", f.requests())
	}
	if got := c.Link("12"); got != f.srv.URL+"/issues/12" {
		t.Errorf("Link = %q", got)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for name, s := range map[string]helpdesk.Settings{
		"no key":              {Config: helpdesk.Config{URL: "http://r"}},
		"bad URL":             {Config: helpdesk.Config{URL: "r"}, Secret: "k"},
		"bad formatting":      {Config: helpdesk.Config{URL: "http://r", Fields: map[string]string{"text_formatting": "html"}}, Secret: "k"},
		"bad resolved ids":    {Config: helpdesk.Config{URL: "http://r", Fields: map[string]string{"resolved_status_ids": "3,x"}}, Secret: "k"},
		"project in fields":   {Config: helpdesk.Config{URL: "http://r", Fields: map[string]string{"project_id": "1"}}, Secret: "k"},
		"subject in fields":   {Config: helpdesk.Config{URL: "http://r", Fields: map[string]string{"subject": "x"}}, Secret: "k"},
		"key in an error URL": {Config: helpdesk.Config{URL: "http://u:k@r"}, Secret: "k"},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: no error", name)
		} else if s.Secret != "" && strings.Contains(err.Error(), "u:k") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

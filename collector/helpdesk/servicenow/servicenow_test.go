package servicenow

import (
	"bytes"
	"context"
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

func openOne(t *testing.T, c helpdesk.Connector, marker, title string) string {
	t.Helper()
	key, err := c.Open(context.Background(), helpdesk.NewTicket{Marker: marker, Title: title, Text: "x"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return key
}

func TestSecretNeverInErrors(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	key := openOne(t, connect(t, srv, nil), "sonde:SND-1", "t")
	const wrong = "Sn0w-wrong-password"
	c := connect(t, srv, func(s *helpdesk.Settings) { s.Secret = wrong })
	basic := base64.StdEncoding.EncodeToString([]byte(fakeUser + ":" + wrong))
	ctx := context.Background()
	_, errOpen := c.Open(ctx, helpdesk.NewTicket{Marker: "sonde:SND-2", Title: "t"})
	_, errState := c.State(ctx, key)
	errAttach := c.Attach(ctx, key, file(t, "a.zip", 100, false))
	_, errHas := c.Has(ctx, key, "m")
	for _, err := range []error{errOpen, errState, errAttach, errHas} {
		var se *helpdesk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Fatalf("with a wrong password: %v; want HTTP 401", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), basic) {
			t.Errorf("the error carries the credential: %v", err)
		}
	}
}

func TestStatuses(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	key := openOne(t, c, "sonde:SND-2", "t")
	for _, tc := range []struct{ state, assignee, want string }{
		{"1", "", helpdesk.StatusOpen},
		{"2", "Bob", helpdesk.StatusOpen},
		{"3", "Bob", helpdesk.StatusOpen},
		{"6", "Alice", helpdesk.StatusResolved},
		{"7", "Alice", helpdesk.StatusClosed},
		{"8", "", helpdesk.StatusClosed},
		{"18", "Carol", helpdesk.StatusOpen}, // an instance's own state
	} {
		fake.set(key, tc.state, tc.assignee)
		st, err := c.State(context.Background(), key)
		if err != nil || st.Status != tc.want || st.Assignee != tc.assignee {
			t.Errorf("state %s, assignee %q: State = %+v, %v; want %s", tc.state, tc.assignee, st, err, tc.want)
		}
	}
}

func TestAttachOverTheLimitSendsNothing(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, func(s *helpdesk.Settings) { s.MaxUpload = 1000 })
	key := openOne(t, c, "sonde:SND-3", "t")
	err := c.Attach(context.Background(), key, file(t, "big.zip", 1001, true))
	if err == nil || !strings.Contains(err.Error(), "1000-byte limit") {
		t.Fatalf("Attach of 1001 bytes with max_upload 1000: %v", err)
	}
	if fake.posts != 0 {
		t.Errorf("%d uploads reached the helpdesk", fake.posts)
	}
}

func TestHelpdeskRefusesTooBig(t *testing.T) {
	_, srv := newFake(t, 1000)
	c := connect(t, srv, nil)
	key := openOne(t, c, "sonde:SND-4", "t")
	err := c.Attach(context.Background(), key, file(t, "big.zip", 5000, false))
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Attach over the instance's limit: %v; want HTTP 413", err)
	}
}

// TestFakeEnforces checks the fake refuses what ServiceNow refuses, so
// that the contract test means something.
func TestFakeEnforces(t *testing.T) {
	_, srv := newFake(t, 1<<20)
	key := openOne(t, connect(t, srv, nil), "sonde:SND-5", "t")
	for _, tc := range []struct {
		method, path, ctype, accept, body string
		want                              int
	}{
		{"POST", "/api/now/attachment/file?table_name=incident&table_sys_id=" + key + "&file_name=a.zip", "multipart/form-data; boundary=x", "application/json", "--x--\r\n", http.StatusBadRequest},
		{"POST", "/api/now/attachment/file?table_name=incident&table_sys_id=" + strings.Repeat("0", 32) + "&file_name=a.zip", "application/zip", "application/json", "abc", http.StatusBadRequest},
		{"POST", "/api/now/table/incident", "text/plain", "application/json", `{}`, http.StatusUnsupportedMediaType},
		{"GET", "/api/now/table/incident/" + key, "", "application/xml", "", http.StatusNotAcceptable},
		{"GET", "/api/now/table/incident/" + strings.Repeat("0", 32), "", "application/json", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.SetBasicAuth(fakeUser, fakePassword)
		req.Header.Set("Accept", tc.accept)
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

func TestFindKeepsTheMarkerAndIsExact(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	openOne(t, c, "sonde:SND-70", "t")
	long := strings.Repeat("Disk almost full on a host with a long name ", 6)
	key := openOne(t, c, "sonde:SND-7", long)
	if s := fake.incidents[key]["short_description"]; !strings.HasSuffix(s, " [sonde:SND-7]") {
		t.Errorf("short description %q lost its marker", s)
	}
	for _, loose := range []bool{false, true} {
		fake.loose = loose // an instance that ignores the query must not fool Find
		for marker, want := range map[string]string{"sonde:SND-7": key, "sonde:SND-71": ""} {
			if got, err := c.Find(context.Background(), helpdesk.NewTicket{Marker: marker}); err != nil || got != want {
				t.Errorf("loose %v: Find(%s) = %q, %v; want %q", loose, marker, got, err, want)
			}
		}
	}
	if _, err := c.Find(context.Background(), helpdesk.NewTicket{Marker: "a^ORshort_descriptionLIKEb"}); err == nil {
		t.Error("Find searched for a marker that would add a condition to the query")
	}
}

func TestCommentStaysInItsCodeBlock(t *testing.T) {
	fake, srv := newFake(t, 1<<20)
	c := connect(t, srv, nil)
	key := openOne(t, c, "sonde:SND-8", "t")
	s := helpdesk.Summary{Marker: "sonde:SND-8/bundle-1/comment", Headline: "h", Findings: []helpdesk.Finding{{Severity: "info", Title: "x[/code]<b>y</b>[code]"}}}
	if err := c.Comment(context.Background(), key, s); err != nil {
		t.Fatal(err)
	}
	note := fake.Comments(key)[0]
	if strings.Count(note, "[code]") != 1 || strings.Count(note, "[/code]") != 1 || strings.Contains(note, "<b>") {
		t.Errorf("an agent's text broke out of the work note's [code] block: %s", note)
	}
	if err := c.Attach(context.Background(), key, file(t, "sonde-SND-8.zip", 10, false)); err != nil {
		t.Fatal(err)
	}
	for _, loose := range []bool{false, true} {
		fake.loose = loose // an instance that ignores the query must not fool Has
		for marker, want := range map[string]bool{s.Marker: true, "sonde-SND-8.zip": true, "sonde:SND-8/bundle-2/comment": false, "sonde-SND-9.zip": false} {
			if has, err := c.Has(context.Background(), key, marker); err != nil || has != want {
				t.Errorf("loose %v: Has(%s) = %v, %v; want %v", loose, marker, has, err, want)
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for name, s := range map[string]helpdesk.Settings{
		"no password":           {Config: helpdesk.Config{URL: "https://x.service-now.com", User: "u"}},
		"credentials in URL":    {Config: helpdesk.Config{URL: "https://u:p@x.service-now.com", User: "u"}, Secret: "s"},
		"short_description set": {Config: helpdesk.Config{URL: "https://x.service-now.com", User: "u", Fields: map[string]string{"short_description": "x"}}, Secret: "s"},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: "https://x.service-now.com", User: "u"}, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	const id = "46d44a5dc0a8010e0000000000000001"
	if got := c.Link(id); got != "https://x.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D"+id {
		t.Errorf("Link = %q", got)
	}
	if err := c.Attach(context.Background(), "INC0010001", file(t, "a", 1, true)); err == nil {
		t.Error("Attach took an incident number for a sys_id")
	}
}

//go:build helpdesk

package helpdesk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/redmine"
)

// TestRedmineConnector runs the connector through the courier's steps
// against Debian's Redmine 5, and reads back what Redmine kept.
func TestRedmineConnector(t *testing.T) {
	began := time.Now()
	rm := StartRedmine(t)
	for _, s := range rm.Timings {
		t.Logf("redmine: %s took %s", s.Step, s.Took.Round(10*time.Millisecond))
	}
	t.Logf("redmine: ready in %s", time.Since(began).Round(10*time.Millisecond))

	conn, err := redmine.New(helpdesk.Settings{Config: helpdesk.Config{Name: "redmine", Kind: "redmine", URL: rm.URL, Queue: rm.Project,
		MaxUpload: helpdesk.DefaultMaxUpload}, Secret: rm.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	nt := helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full on host-7", Text: "Sonde opened this ticket.\nhttps://sonde.example/tickets/SND-7"}
	if key, err := conn.Find(ctx, nt); err != nil || key != "" {
		t.Fatalf("Find before Open = %q, %v", key, err)
	}
	key, err := conn.Open(ctx, nt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, err := conn.Find(ctx, nt); err != nil || got != key {
		t.Fatalf("Find after Open = %q, %v; want %q", got, err, key)
	}
	if other, err := conn.Find(ctx, helpdesk.NewTicket{Ref: "SND-70", Marker: "sonde:SND-70"}); err != nil || other != "" {
		t.Fatalf("Find(SND-70) = %q, %v; want none", other, err)
	}

	title := "Disk / is 97% full <script>alert(1)</script> *bold* ==x== [[wiki]] #1 commit:abc"
	sum := helpdesk.Summary{Marker: "sonde:SND-7/bundle-4/comment", Ref: "SND-7", Headline: "Sonde bundle 4 from host-7: 1 finding",
		Link: "https://sonde.example/tickets/SND-7", Findings: []helpdesk.Finding{{Severity: "critical", Title: title, Fix: "Free disk space", Steps: []string{"Empty the bin"}}}}
	if err := conn.Comment(ctx, key, sum); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	// The note as the page shows it: the agent's text as text,
	// no markup of its own.
	note := renderedNote(t, get(t, conn.Link(key)), "97% full")
	if text := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(note, "")); !strings.Contains(text, title) || !strings.Contains(text, sum.Marker) ||
		strings.Contains(note, "<script") || strings.Contains(note, "<strong>bold") || strings.Contains(note, "href=\"/issues/1\"") {
		t.Errorf("Redmine shows the note as\n%s", note)
	}

	data := filepath.Join(t.TempDir(), "bundle.zip")
	want := randomFile(t, data, 5<<20)
	f := helpdesk.File{Name: "sonde-SND-7-bundle-4.zip", Type: "application/zip", Size: 5 << 20, SHA256: want,
		Open: func() (io.ReadCloser, error) { return os.Open(data) }}
	start := time.Now()
	if err := conn.Attach(ctx, key, f); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Logf("redmine: attaching 5 MB took %s", time.Since(start).Round(10*time.Millisecond))
	if got := rm.AttachmentSHA256(t, key, f.Name); got != want {
		t.Fatalf("the attachment's SHA-256 on Redmine is %q; want %s", got, want)
	}
	for _, marker := range []string{sum.Marker, f.Name} {
		if has, err := conn.Has(ctx, key, marker); err != nil || !has {
			t.Errorf("Has(%q) = %v, %v; want true", marker, has, err)
		}
	}
	if has, err := conn.Has(ctx, key, "sonde:SND-7/bundle-5/comment"); err != nil || has {
		t.Errorf("Has(a marker never sent) = %v, %v", has, err)
	}

	big := filepath.Join(t.TempDir(), "big.zip")
	randomFile(t, big, RedmineMaxAttachment+1)
	err = conn.Attach(ctx, key, helpdesk.File{Name: "big.zip", Size: RedmineMaxAttachment + 1, Open: func() (io.ReadCloser, error) { return os.Open(big) }})
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "maximum attachment size") {
		t.Errorf("a file over Redmine's maximum attachment size: %v; want its 422, explained", err)
	}

	if st, err := conn.State(ctx, key); err != nil || st != (helpdesk.State{Status: helpdesk.StatusOpen}) {
		t.Fatalf("State of a new issue = %+v, %v; want open, unassigned", st, err)
	}
	admin := rm.Resolve(t, key)
	if st, err := conn.State(ctx, key); err != nil || st != (helpdesk.State{Status: helpdesk.StatusResolved, Assignee: admin}) {
		t.Fatalf("State after resolving = %+v, %v; want resolved by %q", st, err, admin)
	}
	if got, err := conn.Find(ctx, nt); err != nil || got != key {
		t.Fatalf("Find of the resolved issue = %q, %v", got, err)
	}
}

// randomFile writes size random bytes to path and returns their SHA-256.
func randomFile(t *testing.T, path string, size int64) string {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(out, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// renderedNote is the HTML of the first note on an issue's page that
// holds text.
func renderedNote(t *testing.T, page, text string) string {
	t.Helper()
	for rest := page; ; {
		i := strings.Index(rest, `-notes" class="wiki">`)
		if i < 0 {
			t.Fatalf("no note on the page holds %q", text)
		}
		rest = rest[i:]
		note, _, _ := strings.Cut(rest, "</div>")
		if strings.Contains(note, text) {
			return note
		}
		rest = rest[1:]
	}
}

// get reads a page anonymously, as a browser would.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}

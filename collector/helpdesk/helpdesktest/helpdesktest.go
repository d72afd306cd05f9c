// Package helpdesktest checks a connector against a server that behaves as
// its helpdesk's API documentation says: each connector's contract test
// runs Conformance with its own fake of the vendor's API.
package helpdesktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// Backend is the fake helpdesk's side, as the test sees it.
type Backend interface {
	// Attachment returns the bytes' SHA-256 (hex) of the attachment named
	// name on the ticket key, and whether there is one; "" when the
	// helpdesk keeps none (a webhook).
	Attachment(key, name string) (string, bool)
	// Comments returns the text of the comments on key, as stored.
	Comments(key string) []string
	// Resolve moves the ticket to the helpdesk's resolved state and
	// assigns it to assignee.
	Resolve(key, assignee string)
	// Throttle makes the next request answer 429 with Retry-After: 7.
	Throttle()
}

// Conformance runs the connector through what the collector's courier
// does: open, find, comment, attach (a file of size bytes, streamed), has,
// state, and a throttled request.
func Conformance(t *testing.T, c helpdesk.Connector, b Backend, size int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nt := helpdesk.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full on host-7", Text: "Sonde opened this ticket.\nhttps://sonde.example/tickets/SND-7"}
	if key, err := c.Find(ctx, nt); err != nil || key != "" {
		t.Fatalf("Find before Open = %q, %v; want \"\", nil", key, err)
	}
	key, err := c.Open(ctx, nt)
	if err != nil || key == "" {
		t.Fatalf("Open = %q, %v", key, err)
	}
	if got, err := c.Find(ctx, nt); err != nil || got != key {
		t.Fatalf("Find after Open = %q, %v; want %q", got, err, key)
	}
	if !strings.Contains(c.Link(key), key) {
		t.Errorf("Link(%q) = %q, which does not name the key", key, c.Link(key))
	}
	sum := helpdesk.Summary{Marker: "sonde:SND-7/bundle-4/comment", Ref: "SND-7", Headline: "Sonde bundle 4 from host-7: 1 finding",
		Link: "https://sonde.example/tickets/SND-7", Findings: []helpdesk.Finding{{Severity: "critical", Title: "Disk / is 97% full <script>", Fix: "Free disk space", Steps: []string{"Empty the bin"}}}}
	if has, err := c.Has(ctx, key, sum.Marker); err != nil || has {
		t.Fatalf("Has(comment) before Comment = %v, %v", has, err)
	}
	if err := c.Comment(ctx, key, sum); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	if has, err := c.Has(ctx, key, sum.Marker); err != nil || !has {
		t.Fatalf("Has(comment) after Comment = %v, %v", has, err)
	}
	found := false
	for _, text := range b.Comments(key) {
		found = found || strings.Contains(text, "97% full") && strings.Contains(text, sum.Marker) && !strings.Contains(text, "<script>")
	}
	if !found {
		t.Errorf("no comment has the finding and the marker, with the agent's text escaped: %q", b.Comments(key))
	}

	f := File(size)
	if has, err := c.Has(ctx, key, f.Name); err != nil || has {
		t.Fatalf("Has(file) before Attach = %v, %v", has, err)
	}
	if err := c.Attach(ctx, key, f); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got, ok := b.Attachment(key, f.Name); !ok || got != "" && got != f.SHA256 {
		t.Fatalf("attachment on the helpdesk: %v, sha256 %s; want %s", ok, got, f.SHA256)
	}
	if has, err := c.Has(ctx, key, f.Name); err != nil || !has {
		t.Fatalf("Has(file) after Attach = %v, %v", has, err)
	}

	st, err := c.State(ctx, key)
	if err != nil || st.Status != helpdesk.StatusOpen {
		t.Fatalf("State of a new ticket = %+v, %v; want open", st, err)
	}
	b.Resolve(key, "alice")
	st, err = c.State(ctx, key)
	if err != nil || st.Status != helpdesk.StatusResolved || st.Assignee != "alice" {
		t.Fatalf("State after resolving = %+v, %v; want resolved by alice", st, err)
	}

	b.Throttle()
	_, err = c.State(ctx, key)
	var se *helpdesk.StatusError
	if !errors.As(err, &se) || se.Code != 429 || se.RetryAfter != 7*time.Second {
		t.Fatalf("a throttled request: %v; want HTTP 429 with a 7 s Retry-After", err)
	}
}

// File is a bundle-like attachment of size bytes, named as the courier
// names a bundle, with its SHA-256: what connectors' tests upload.
func File(size int64) helpdesk.File {
	data := bytes.Repeat([]byte("sonde bundle bytes\n"), int(size/19)+1)[:size]
	sum := sha256.Sum256(data)
	return helpdesk.File{Name: "sonde-SND-7-bundle-4.zip", Type: "application/zip", Size: size, SHA256: hex.EncodeToString(sum[:]),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

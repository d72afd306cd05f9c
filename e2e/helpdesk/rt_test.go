//go:build helpdesk

package helpdesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hd "github.com/sondehq/sonde/collector/helpdesk"
	rtconn "github.com/sondehq/sonde/collector/helpdesk/rt"
)

// TestRTConnector runs the RT connector through the courier's steps
// against a real Request Tracker 5, and reads back through REST2 what it
// left there: the ticket, the comment, a 5 MB file byte for byte, and the
// state an engineer sets in RT.
func TestRTConnector(t *testing.T) {
	rt := StartRT(t)
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := rtconn.New(hd.Settings{Config: hd.Config{Name: "rt", Kind: "rt", URL: rt.URL, Queue: "General", MaxUpload: 10 << 20}, Secret: rt.Token})
	if err != nil {
		t.Fatal(err)
	}

	nt := hd.NewTicket{Ref: "SND-7", Marker: "sonde:SND-7", Title: "Disk almost full on host-7", Text: "Sonde opened this ticket.\nhttps://sonde.example/tickets/SND-7"}
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
	var ticket struct {
		Subject string
		Queue   struct{ ID string }
	}
	if err := rt.REST(ctx, http.MethodGet, "/ticket/"+key, nil, &ticket); err != nil || ticket.Subject != nt.Subject() || ticket.Queue.ID != "1" {
		t.Fatalf("ticket %s in RT: %+v, %v; want subject %q in queue 1 (General)", key, ticket, err, nt.Subject())
	}

	sum := hd.Summary{Marker: "sonde:SND-7/bundle-4/comment", Ref: "SND-7", Headline: "Sonde bundle 4 from host-7: 1 finding",
		Findings: []hd.Finding{{Severity: "critical", Title: "Disk / is 97% full", Fix: "Free disk space", Steps: []string{"Empty the bin"}}}}
	if has, err := conn.Has(ctx, key, sum.Marker); err != nil || has {
		t.Fatalf("Has(comment) before Comment = %v, %v", has, err)
	}
	if err := conn.Comment(ctx, key, sum); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	if has, err := conn.Has(ctx, key, sum.Marker); err != nil || !has {
		t.Fatalf("Has(comment) after Comment = %v, %v", has, err)
	}

	f := bundleFile(t, 5<<20)
	if has, err := conn.Has(ctx, key, f.Name); err != nil || has {
		t.Fatalf("Has(file) before Attach = %v, %v", has, err)
	}
	began := time.Now()
	if err := conn.Attach(ctx, key, f); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Logf("attached %d bytes in %v", f.Size, time.Since(began).Round(time.Millisecond))
	if has, err := conn.Has(ctx, key, f.Name); err != nil || !has {
		t.Fatalf("Has(file) after Attach = %v, %v", has, err)
	}
	began = time.Now()
	files, err := rt.Attachments(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Filename != f.Name || files[0].Size != f.Size || files[0].SHA256 != f.SHA256 || files[0].ContentType != f.Type {
		t.Fatalf("files on ticket %s: %+v; want %s (%s, %d bytes, SHA-256 %s)", key, files, f.Name, f.Type, f.Size, f.SHA256)
	}
	t.Logf("read it back (SHA-256 matches) in %v", time.Since(began).Round(time.Millisecond))

	if st, err := conn.State(ctx, key); err != nil || st != (hd.State{Status: hd.StatusOpen}) {
		t.Fatalf("State of the new ticket = %+v, %v; want open, nobody's", st, err)
	}
	if err := rt.SetTicket(ctx, key, map[string]string{"Status": "resolved", "Owner": "root"}); err != nil {
		t.Fatal(err)
	}
	if st, err := conn.State(ctx, key); err != nil || st != (hd.State{Status: hd.StatusResolved, Assignee: "root"}) {
		t.Fatalf("State after resolving as root = %+v, %v; want resolved by root", st, err)
	}
	if link := conn.Link(key); link != rt.URL+"/Ticket/Display.html?id="+key {
		t.Errorf("Link = %q", link)
	}

	// Basic auth, with root's password instead of a token.
	basic, err := rtconn.New(hd.Settings{Config: hd.Config{Name: "rt", Kind: "rt", URL: rt.URL, User: "root"}, Secret: rt.RootPassword})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := basic.State(ctx, key); err != nil || st.Status != hd.StatusResolved {
		t.Fatalf("State with Basic auth = %+v, %v", st, err)
	}
	wrong, err := rtconn.New(hd.Settings{Config: hd.Config{Name: "rt", Kind: "rt", URL: rt.URL}, Secret: "1-14-" + strings.Repeat("0", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.State(ctx, key); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("State with a wrong token: %v; want HTTP 401", err)
	}
}

// bundleFile writes size pseudo-random bytes to a file of the test's and
// returns it as the courier would hand it over: opened from disk on each
// attempt, never held in memory.
func bundleFile(t *testing.T, size int64) hd.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bundle.zip")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{'s', 'o', 'n', 'd', 'e'})
	if _, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(src, size)); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return hd.File{Name: "sonde-SND-7-bundle-4.zip", Type: "application/zip", Size: size, SHA256: hex.EncodeToString(h.Sum(nil)),
		Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

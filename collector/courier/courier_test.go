package courier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
)

// desk is a helpdesk in memory that fails as its script tells: "fail"
// answers 500 without doing anything; "lose" does the work and then
// answers as a timeout would, so the courier cannot know it was done.
type desk struct {
	mu      sync.Mutex
	tickets map[string]string   // key → subject
	posts   map[string][]string // key → comment texts and file names with their SHA-256
	state   helpdesk.State
	script  []string // the next calls' outcomes: fail, lose or ok
}

func newDesk() *desk { return &desk{tickets: map[string]string{}, posts: map[string][]string{}} }

func (d *desk) trouble() (lose bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.script) == 0 {
		return false, nil
	}
	next := d.script[0]
	d.script = d.script[1:]
	switch next {
	case "fail":
		return false, &helpdesk.StatusError{Op: "POST /x", Code: 500}
	case "lose":
		return true, nil
	}
	return false, nil
}

var errLost = errors.New("POST /x: context deadline exceeded")

func (d *desk) Open(_ context.Context, t helpdesk.NewTicket) (string, error) {
	lose, err := d.trouble()
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	key := fmt.Sprint(len(d.tickets) + 1)
	d.tickets[key] = t.Subject()
	d.mu.Unlock()
	if lose {
		return "", errLost
	}
	return key, nil
}

func (d *desk) Find(_ context.Context, t helpdesk.NewTicket) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, s := range d.tickets {
		if strings.Contains(s, "["+t.Marker+"]") {
			return k, nil
		}
	}
	return "", nil
}

func (d *desk) post(key, what string) error {
	lose, err := d.trouble()
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.posts[key] = append(d.posts[key], what)
	d.mu.Unlock()
	if lose {
		return errLost
	}
	return nil
}

func (d *desk) Comment(_ context.Context, key string, s helpdesk.Summary) error {
	return d.post(key, s.Text())
}

func (d *desk) Attach(_ context.Context, key string, f helpdesk.File) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	return d.post(key, f.Name+" "+hex.EncodeToString(h.Sum(nil)))
}

func (d *desk) Has(_ context.Context, key, marker string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.posts[key] {
		if strings.Contains(p, marker) {
			return true, nil
		}
	}
	return false, nil
}

func (d *desk) State(context.Context, string) (helpdesk.State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state, nil
}

func (d *desk) Link(key string) string { return "https://desk.example/" + key }

// fixture is a store with a ticket asked to open in the desk, and two
// bundles on disk.
func fixture(t *testing.T) (store.Store, []store.Bundle) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	if _, err := st.CreateTicket(ctx, ticket.Ticket{Ref: "SND-1", Title: "Disk full", Tier: ticket.L2, Status: ticket.New, CreatedBy: "alice", CreatedAt: now, UpdatedAt: now},
		ticket.Event{At: now, Actor: "alice", Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	var bs []store.Bundle
	for i := range 2 {
		path := filepath.Join(dir, fmt.Sprintf("bundle-%d.zip", i))
		data := []byte(strings.Repeat(fmt.Sprintf("bundle %d ", i), 1000))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		b, err := st.AddBundle(ctx, store.Bundle{Kind: "bundle", Ticket: "SND-1", AgentID: "a1", SnapshotID: 1, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)),
			CreatedAt: now, CreatedBy: "alice", Path: path,
			Evidence: []byte(`[{"id":"disk.almost-full","severity":3,"title":"Disk / is 97% full","kb":{"id":"disk.almost-full","title":"Free disk space","steps":["Empty the bin"]}}]`)},
			ticket.Event{At: now, Actor: "alice", Kind: "bundle"})
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	if _, err := st.UpdateTicket(ctx, "SND-1", func(tk *ticket.Ticket) (ticket.Event, error) {
		return ticket.Apply(tk, ticket.Request{Action: ticket.ActLink, Helpdesk: "desk", Queue: "General"}, "alice", now)
	}); err != nil {
		t.Fatal(err)
	}
	return st, bs
}

func courier(st store.Store, d *desk) *Courier {
	return &Courier{Store: st, Connectors: map[string]helpdesk.Connector{"desk": d},
		Settings: map[string]helpdesk.Settings{"desk": {Config: helpdesk.Config{MaxUpload: 1 << 20, Poll: time.Hour}}},
		Retry:    time.Millisecond, MaxRetry: 5 * time.Millisecond, Tick: 5 * time.Millisecond, PublicURL: "https://sonde.example"}
}

// runUntil runs c until every step is sent or the test's patience ends.
func runUntil(t *testing.T, c *Courier, st store.Store, steps int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ds, err := st.Deliveries(ctx, "SND-1")
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, d := range ds {
			if d.State == store.DeliverySent {
				sent++
			}
		}
		if len(ds) == steps && sent == steps {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	ds, _ := st.Deliveries(ctx, "SND-1")
	t.Fatalf("the outbox did not empty: %+v", ds)
}

// Failures, lost answers and a restart in between: the ticket is opened
// once, and each bundle's comment and file are on it exactly once.
func TestExactlyOnce(t *testing.T) {
	st, bs := fixture(t)
	d := newDesk()
	// The open fails twice, then opens and loses the answer; the first
	// comment fails and then is posted with its answer lost; and so on.
	d.script = strings.Fields("fail fail lose ok fail lose lose fail ok")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { courier(st, d).Run(ctx); close(done) }()
	time.Sleep(15 * time.Millisecond)
	cancel() // the collector restarts
	<-done
	runUntil(t, courier(st, d), st, 5)
	tk, err := st.Ticket(t.Context(), "SND-1")
	if err != nil || tk.External != "1" || len(d.tickets) != 1 {
		t.Fatalf("ticket %+v, %v; the desk has %d tickets", tk, err, len(d.tickets))
	}
	if len(d.script) != 0 {
		t.Errorf("the desk's script was not played to its end: %q left", d.script)
	}

	posts := d.posts["1"]
	for _, b := range bs {
		for _, marker := range []string{fmt.Sprintf("sonde:SND-1/bundle-%d/comment", b.ID), fmt.Sprintf("sonde-SND-1-bundle-%d.zip %s", b.ID, b.SHA256)} {
			n := 0
			for _, p := range posts {
				if strings.Contains(p, marker) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%q is on the ticket %d times; want once. Posts: %q", marker, n, posts)
			}
		}
	}
	if len(posts) != 4 {
		t.Errorf("the ticket has %d posts; want 4", len(posts))
	}
	if !strings.Contains(posts[0], "Disk / is 97% full") || !strings.Contains(posts[0], "https://sonde.example/tickets/SND-1") {
		t.Errorf("the comment lacks the finding or the link back: %q", posts[0])
	}
	evs, _ := st.TicketEvents(t.Context(), "SND-1")
	if last := evs[len(evs)-1]; last.Actor != "helpdesk:desk" || last.What() != "linked it to desk:1" {
		t.Errorf("the timeline's last event: %s %q", last.Actor, last.What())
	}
}

// A helpdesk's Retry-After is honoured, and a bundle over the helpdesk's
// limit is not uploaded: a comment says where it is.
func TestOverLimitAndRetryAfter(t *testing.T) {
	st, _ := fixture(t)
	d := newDesk()
	c := courier(st, d)
	c.Settings["desk"] = helpdesk.Settings{Config: helpdesk.Config{MaxUpload: 100, Poll: time.Hour}}
	runUntil(t, c, st, 5)
	for _, p := range d.posts["1"] {
		if strings.Contains(p, ".zip ") {
			t.Errorf("a bundle over the limit was uploaded: %q", p)
		}
	}
	if got := d.posts["1"][1]; !strings.Contains(got, "over this helpdesk's limit of 0.0 MB") || !strings.Contains(got, "sonde-SND-1-bundle-") {
		t.Errorf("the over-limit comment: %q", got)
	}

	if got := c.backoff(0); got > time.Millisecond || got < 800*time.Microsecond {
		t.Errorf("backoff(0) = %s", got)
	}
	if got := c.backoff(30); got > 5*time.Millisecond || got < 4*time.Millisecond {
		t.Errorf("backoff(30) = %s, want about MaxRetry", got)
	}
}

// The helpdesk's state follows back: resolved there resolves here,
// reopened there reopens here, with the assignee.
func TestFollow(t *testing.T) {
	st, _ := fixture(t)
	d := newDesk()
	c := courier(st, d)
	runUntil(t, c, st, 5)
	ctx := t.Context()
	for _, tc := range []struct {
		st       helpdesk.State
		moves    string
		status   string
		assignee string
	}{
		{helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "root"}, "assign resolve", ticket.Resolved, "root"},
		{helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "root"}, "", ticket.Resolved, "root"},
		{helpdesk.State{Status: helpdesk.StatusOpen, Assignee: "bob"}, "assign reopen", ticket.InProgress, "bob"},
		{helpdesk.State{Status: helpdesk.StatusClosed}, "close", ticket.Closed, "bob"},
	} {
		moves, err := c.Follow(ctx, "desk", "1", tc.st)
		tk, _ := st.Ticket(ctx, "SND-1")
		if err != nil || strings.Join(moves, " ") != tc.moves || tk.Status != tc.status || tk.Assignee != tc.assignee {
			t.Errorf("Follow(%+v) = %q, %v; ticket %s, %q; want %q, %s, %q", tc.st, moves, err, tk.Status, tk.Assignee, tc.moves, tc.status, tc.assignee)
		}
	}
	if _, err := c.Follow(ctx, "desk", "99", helpdesk.State{Status: helpdesk.StatusResolved}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("following a key no ticket is linked to: %v", err)
	}
}

// hookedDesk is a desk whose webhook calls carry a shared secret.
type hookedDesk struct{ *desk }

func (hookedDesk) Webhook(h http.Header, body []byte) (string, helpdesk.State, error) {
	if h.Get("X-Secret") != "s3cret" {
		return "", helpdesk.State{}, helpdesk.ErrUnsigned
	}
	key, status, _ := strings.Cut(string(body), " ")
	return key, helpdesk.State{Status: status}, nil
}

// The webhook moves the ticket for a signed call only.
func TestWebhook(t *testing.T) {
	st, _ := fixture(t)
	d := newDesk()
	c := courier(st, d)
	runUntil(t, c, st, 5)
	c.Connectors["desk"] = hookedDesk{d}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/helpdesks/{name}/webhook", c.ServeWebhook)
	call := func(name, secret, body string) int {
		req := httptest.NewRequest("POST", "/api/v1/helpdesks/"+name+"/webhook", strings.NewReader(body))
		req.Header.Set("X-Secret", secret)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	status := func() string { tk, _ := st.Ticket(t.Context(), "SND-1"); return tk.Status }
	if code := call("desk", "wrong", "1 resolved"); code != 401 || status() != ticket.New {
		t.Fatalf("unsigned call: HTTP %d, ticket %s; want 401 and no change", code, status())
	}
	if code := call("nodesk", "s3cret", "1 resolved"); code != 404 {
		t.Fatalf("a helpdesk not configured: HTTP %d; want 404", code)
	}
	if code := call("desk", "s3cret", "99 resolved"); code != 202 {
		t.Fatalf("a key no ticket is linked to: HTTP %d; want 202", code)
	}
	if code := call("desk", "s3cret", "1 resolved"); code != 200 || status() != ticket.Resolved {
		t.Fatalf("signed call: HTTP %d, ticket %s; want 200 and resolved", code, status())
	}
	if code := call("desk", "s3cret", "1 resolved"); code != 204 {
		t.Fatalf("the same call again: HTTP %d; want 204 (nothing to do)", code)
	}
	big := strings.Repeat("x", 2<<20)
	if code := call("desk", "s3cret", big); code != 413 {
		t.Fatalf("a 2 MiB call: HTTP %d; want 413", code)
	}
}

package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/cli"
	"github.com/sondehq/sonde/collector/courier"
	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/rt"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/roletable"
)

// TestEveryCommandAsL1 runs every command of the CLI with an L1 key
// against a real API and store, and checks what L1 may see and do, as the
// README's role table says: it works tickets at L1, attaches evidence to
// its own tickets and hands them to L2 with a handover; it never sees raw
// machine data, and every refusal says why.
func TestEveryCommandAsL1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, role := range []string{store.RoleL1, store.RoleL2} {
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: role, Name: role + "-user", Role: role, CreatedAt: time.Now()}, api.HashKey("sonde_test_"+role)); err != nil {
			t.Fatal(err)
		}
	}
	fixture := "../../findings/testdata/full-disk-failed-service/snapshot.json"
	apitest.PutFixture(t, st, "a1")
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: apitest.Offline{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Bundles: api.Bundler{Dir: dir, Key: key}}
	conn, err := rt.New(helpdesk.Settings{Config: helpdesk.Config{Name: "rt", Kind: "rt", URL: "https://rt.example.com", Queue: "General"}, Secret: "token"})
	if err != nil {
		t.Fatal(err)
	}
	a.Helpdesks = &courier.Courier{Store: st, Connectors: map[string]helpdesk.Connector{"rt": conn}}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	t.Setenv("SONDE_URL", srv.URL)

	run := func(role string, args ...string) (string, error) {
		t.Setenv("SONDE_TOKEN", "sonde_test_"+role)
		var out, errb bytes.Buffer
		if code := cli.Main(ctx, args, &out, &errb); code != 0 {
			return out.String() + errb.String(), &exitError{code, errb.String()}
		}
		return out.String() + errb.String(), nil
	}
	file := func(name string) string { return filepath.Join(dir, name) }

	steps := []step{
		{[]string{"whoami"}, true, "role l1"},
		{[]string{"version"}, true, "sonde"},
		{[]string{"agents"}, true, "a1"},
		{[]string{"alerts"}, true, ""},
		{[]string{"snapshot", "a1"}, false, "snapshot.take needs l2"},
		{[]string{"snapshots", "a1"}, false, "snapshots.list needs l2"},
		{[]string{"show", "1"}, false, "snapshot.read needs l2"},
		{[]string{"diff", "a1"}, false, "diff.read needs l2"},
		{[]string{"import", fixture, "--ticket", "INC-1"}, false, "snapshot.import needs l2"},
		{[]string{"audit"}, false, "audit.read needs admin"},
		{[]string{"silence", "list"}, false, "silences.list needs l2"},
		{[]string{"silence", "add", "--match", "alertname=X", "--for", "1h"}, false, "silence.add needs l2"},
		{[]string{"silence", "expire", "abc"}, false, "silence.expire needs l2"},
		{[]string{"bundle", "get", "1", "-o", file("b.zip")}, false, "bundle.download needs l2"},
		// Tickets: opened at L1, worked at L1, handed up to L2 only.
		{[]string{"ticket", "open", "--ref", "INC-2", "--title", "slow", "--tier", "l2"}, false, "may open tickets at tier L1 at most"},
		{[]string{"ticket", "open", "--ref", "INC-1", "--title", "disk full", "--agent", "a1"}, true, "INC-1"},
		{[]string{"ticket", "list"}, true, "INC-1"},
		{[]string{"bundle", "a1", "--ticket", "INC-1", "-o", file("b.zip")}, false, "leave out -o"},
		{[]string{"bundle", "a1", "--ticket", "INC-1"}, true, "bundle 1 attached to INC-1"},
		{[]string{"ticket", "show", "INC-1"}, true, "disk.almost-full"},
		{[]string{"ticket", "note", "INC-1", "user", "says", "it", "is", "slow"}, true, "INC-1"},
		{[]string{"ticket", "assign", "INC-1", "bob"}, false, "may assign tickets to itself only"},
		{[]string{"ticket", "assign", "INC-1", "l1-user"}, true, "in progress"},
		{[]string{"ticket", "escalate", "INC-1", "--to", "l3"}, false, "may escalate to L2 at most"},
		{[]string{"ticket", "escalate", "INC-1", "--to", "l2", "-o", file("handover.txt")}, true, "handover package for L2: bundle 2"},
		{[]string{"ticket", "resolve", "INC-1"}, false, "ticket INC-1 is at L2"},
		{[]string{"ticket", "open", "--ref", "INC-3", "--title", "printer", "--agent", "a1"}, true, "INC-3"},
		{[]string{"ticket", "start", "INC-3"}, true, "in progress"},
		{[]string{"ticket", "resolve", "INC-3", "--note", "reseated the cable"}, true, "resolved"},
		{[]string{"ticket", "close", "INC-3"}, true, "closed"},
		{[]string{"ticket", "reopen", "INC-3"}, true, "in progress (tier L1)"},
		{[]string{"ticket", "link", "INC-1", "--external", "1234"}, false, "ticket INC-1 is at L2"},
		{[]string{"ticket", "link", "INC-3", "--external", "4711"}, true, "helpdesk rt: 4711 https://rt.example.com/Ticket/Display.html?id=4711"},
	}
	asL1 := func(c step) {
		t.Helper()
		out, err := run(store.RoleL1, c.args...)
		if (err == nil) != c.ok || !strings.Contains(out, c.want) {
			t.Errorf("sonde %s as L1: err %v, want ok %v and %q in:\n%s", strings.Join(c.args, " "), err, c.ok, c.want, out)
		}
		if strings.Contains(out, `"evidence"`) || strings.Contains(out, "/download") {
			t.Errorf("sonde %s as L1 shows raw machine data:\n%s", strings.Join(c.args, " "), out)
		}
	}
	for _, c := range steps {
		asL1(c)
	}

	// The handover L1 wrote is the ticket as L1 sees it: the note, the
	// findings and the bundles by their record.
	h, err := os.ReadFile(file("handover.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"user says it is slow", "disk.almost-full", "handover", "escalated it L1 → L2"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("L1's handover file lacks %q:\n%s", want, h)
		}
	}
	// L2 downloads the handover package, which holds the note and the
	// snapshot, and a bundle L1 holds verifies with L1's key.
	if out, err := run(store.RoleL2, "bundle", "get", "2", "-o", file("h.zip")); err != nil {
		t.Fatalf("L2 getting the handover: %v\n%s", err, out)
	}
	verify := step{[]string{"bundle", "verify", file("h.zip")}, true, "OK"}
	asL1(verify)
	steps = append(steps, verify)

	// Every command of the README's role table was run above, allowed
	// exactly when the table says L1 may.
	rows, err := roletable.Read("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, row := range rows {
		for _, cmd := range row.Commands() {
			seen := false
			for _, c := range steps {
				if len(c.args) >= len(cmd) && slices.Equal(c.args[:len(cmd)], cmd) && c.ok == (row.Role == store.RoleL1) {
					seen = true
				}
			}
			if !seen {
				t.Errorf("README: %s (sonde %s) is for %s and above; no step here runs it as L1 with that outcome", name, strings.Join(cmd, " "), row.Role)
			}
		}
	}
}

type step struct {
	args []string
	ok   bool
	want string // in the output, or the error when refused
}

type exitError struct {
	code   int
	stderr string
}

func (e *exitError) Error() string { return strings.TrimSpace(e.stderr) }

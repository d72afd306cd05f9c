package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/cli"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/protocol"
)

// TestShow runs `sonde show N` against a real API and store: the stored
// snapshot in units, its process list with its age and, once the agent
// has reported health since, marked as maybe stale; --json as the
// collector answered; the read on the audit record; bad IDs refused.
func TestShow(t *testing.T) {
	ctx := context.Background()
	st, runAs := collector(t)
	run := func(args ...string) (string, int) { return runAs(store.RoleL2, args...) }
	captured := time.Date(2026, 11, 24, 22, 14, 21, 41e6, time.UTC)

	out, code := run("show", "1")
	if code != 0 {
		t.Fatalf("sonde show 1: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"stored as snapshot 1\n",
		"snapshot 1 (full) captured " + render.Time(captured, time.Now()) + " by agent a1\n",
		"== processes (",
		"), as of " + render.Ago(captured, time.Now()) + " (snapshot 1)\n",
		"      total_bytes: 252 GiB\n",
		"      rss_bytes: 719 MiB\n",
		"  boot_time: ",
		"  uptime_seconds: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sonde show 1 lacks %q:\n%s", want, out)
		}
	}
	for _, raw := range []string{"270553174016", "754438656", "1795556326", "NOTE"} {
		if strings.Contains(out, raw) {
			t.Errorf("sonde show 1 shows %q:\n%s", raw, out)
		}
	}

	health := &store.Snapshot{Document: protocol.Document{AgentID: "a1", BootEpoch: 1, Seq: 1, Kind: "health", CapturedAt: time.Now().Add(-time.Minute),
		Probes: []protocol.ProbeJSON{{Name: "cpu", Data: json.RawMessage(`{"usage_percent": 3}`)}}}, ReceivedAt: time.Now()}
	if _, _, err := st.PutSnapshot(ctx, health); err != nil {
		t.Fatal(err)
	}
	out, _ = run("show", "1")
	if !strings.Contains(out, " (snapshot 1)\n  NOTE: this list may be stale: the agent reported health ") || strings.Count(out, "NOTE") != 1 {
		t.Errorf("the process list is not marked stale once alone:\n%s", out)
	}
	out, _ = run("show", "2")
	if strings.Contains(out, "NOTE") {
		t.Errorf("the latest health sample called stale:\n%s", out)
	}

	out, code = run("show", "1", "--json")
	var v struct {
		ID             int64     `json:"id"`
		LatestHealthAt time.Time `json:"latest_health_at"`
		Probes         []struct {
			Data json.RawMessage `json:"data"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.ID != 1 || !v.LatestHealthAt.Equal(health.CapturedAt) || !strings.Contains(out, "270553174016") {
		t.Errorf("sonde show 1 --json: exit %d, %v, %+v:\n%.400s", code, err, v, out)
	}

	for _, tc := range []struct{ arg, want string }{
		{"x1", `snapshot ID "x1" is not a number`},
		{"99", "not found"},
	} {
		if out, code := run("show", tc.arg); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("sonde show %s: exit %d, want %q in:\n%s", tc.arg, code, tc.want, out)
		}
	}
	entries, _, err := st.AuditLog(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range entries {
		if e.Action == "snapshot.read" && strings.HasPrefix(e.Actor, "l2-user ") && e.Target == "id=1" && strings.HasPrefix(e.Detail, "ok") {
			reads++
		}
	}
	if reads != 3 {
		t.Errorf("%d audited reads of snapshot 1, want 3: %+v", reads, entries)
	}
}

// collector is a real API and store with an L1 and an L2 key and agent a1
// (apitest.PutFixture: snapshot 1, captured 2026-11-24 22:14 UTC), and a
// function that runs the CLI against it with a role's key.
func collector(t *testing.T) (*sqlite.Store, func(role string, args ...string) (string, int)) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, role := range []string{store.RoleL1, store.RoleL2} {
		if err := st.CreateAPIKey(ctx, store.APIKey{ID: role, Name: role + "-user", Role: role, CreatedAt: time.Now()}, api.HashKey("sonde_test_"+role)); err != nil {
			t.Fatal(err)
		}
	}
	apitest.PutFixture(t, st, "a1")
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: apitest.Offline{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	t.Setenv("SONDE_URL", srv.URL)
	return st, func(role string, args ...string) (string, int) {
		t.Setenv("SONDE_TOKEN", "sonde_test_"+role)
		var out bytes.Buffer
		code := cli.Main(ctx, args, &out, &out)
		return out.String(), code
	}
}

// TestTicketShowL2Steps: sonde ticket show gives L2 the knowledge base's
// steps for L2 under each finding, headed "For L2:"; L1 gets the user's
// steps alone.
func TestTicketShowL2Steps(t *testing.T) {
	_, run := collector(t)
	if out, code := run(store.RoleL1, "ticket", "open", "--ref", "INC-1", "--title", "disk full", "--agent", "a1"); code != 0 {
		t.Fatalf("ticket open: %s", out)
	}
	l2, _ := run(store.RoleL2, "ticket", "show", "INC-1")
	l1, _ := run(store.RoleL1, "ticket", "show", "INC-1")
	want := "           1. Empty the trash or recycle bin.\n"
	l2Step := "           For L2:\n           1. Confirm and see the trend: `sonde snapshot AGENT --probes disk`"
	if !strings.Contains(l2, want) || !strings.Contains(l2, l2Step) {
		t.Errorf("L2's ticket show lacks the user's steps or the steps for L2:\n%s", l2)
	}
	if !strings.Contains(l1, want) || strings.Contains(l1, "For L2:") {
		t.Errorf("L1's ticket show lacks the user's steps or shows the steps for L2:\n%s", l1)
	}
}

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
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "l2", Name: "l2-user", Role: store.RoleL2, CreatedAt: time.Now()}, api.HashKey("sonde_test_l2")); err != nil {
		t.Fatal(err)
	}
	apitest.PutFixture(t, st, "a1") // snapshot 1, captured 2026-11-24 22:14 UTC
	captured := time.Date(2026, 11, 24, 22, 14, 21, 41e6, time.UTC)
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: apitest.Offline{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	t.Setenv("SONDE_URL", srv.URL)
	t.Setenv("SONDE_TOKEN", "sonde_test_l2")
	run := func(args ...string) (string, int) {
		var out bytes.Buffer
		code := cli.Main(ctx, args, &out, &out)
		return out.String(), code
	}

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

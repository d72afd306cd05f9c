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
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// overTCP is a live side with agent a1 connected over the TCP fallback.
type overTCP struct{ apitest.Offline }

func (overTCP) Connected() map[string]ingest.Link {
	return map[string]ingest.Link{"a1": {Since: time.Now(), Transport: "tcp"}}
}

// TestAgentsTransport: `sonde agents` shows how each online agent is
// connected, in a TRANSPORT column and in its JSON.
func TestAgentsTransport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "l2", Name: "l2-user", Role: store.RoleL2, CreatedAt: time.Now()}, api.HashKey("sonde_test_l2")); err != nil {
		t.Fatal(err)
	}
	apitest.PutFixture(t, st, "a1")
	apitest.PutFixture(t, st, "a2")
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: overTCP{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Bundles: api.Bundler{Dir: dir, Key: key}}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	t.Setenv("SONDE_URL", srv.URL)
	t.Setenv("SONDE_TOKEN", "sonde_test_l2")

	var out, errb bytes.Buffer
	if code := cli.Main(ctx, []string{"agents"}, &out, &errb); code != 0 {
		t.Fatalf("sonde agents: exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "STATE") || !strings.Contains(lines[0], "TRANSPORT") {
		t.Fatalf("sonde agents:\n%s", out.String())
	}
	col := strings.Index(lines[0], "TRANSPORT")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		want := map[string]string{"a1": "TCP", "a2": "-"}[f[0]]
		if got := strings.Fields(l[col:])[0]; got != want {
			t.Errorf("%s: TRANSPORT %q, want %q:\n%s", f[0], got, want, out.String())
		}
	}

	out.Reset()
	if code := cli.Main(ctx, []string{"agents", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("sonde agents --json: exit %d: %s", code, errb.String())
	}
	var list []api.AgentView
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		if want := map[string]string{"a1": "tcp", "a2": ""}[v.ID]; v.Transport != want {
			t.Errorf("%s: transport %q in JSON, want %q", v.ID, v.Transport, want)
		}
	}
}

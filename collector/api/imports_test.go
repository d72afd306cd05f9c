package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

const importKey = "sonde_test_import_l2"

// noAgents is a QUIC side with no agent connected.
type noAgents struct{}

func (noAgents) Connected() map[string]ingest.Link { return map[string]ingest.Link{} }
func (noAgents) RequestSnapshot(context.Context, string, []string) (int64, error) {
	return 0, ingest.ErrOffline
}

// importEnv is a collector with one enrolled agent, "enrolled" (host
// pc-enrolled), and one ticket, T-1, for import tests.
type importEnv struct {
	st  *sqlite.Store
	kb  *findings.KB
	dir string
	key ed25519.PrivateKey
}

func newImportEnv(t testing.TB) *importEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "l2", Name: "l2", Role: store.RoleL2, CreatedAt: time.Now()}, api.HashKey(importKey)); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAgent(ctx, store.Agent{ID: "enrolled", Facts: protocol.Facts{Hostname: "pc-enrolled", HostID: "host-enrolled"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTicket(ctx, ticket.Ticket{Ref: "T-1", Title: "t", Tier: "l2", Status: ticket.New, Agents: []string{}},
		ticket.Event{At: time.Now(), Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	kb, err := findings.LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	return &importEnv{st: st, kb: kb, dir: t.TempDir(), key: key}
}

// handler is a fresh API on the environment's store (a fresh one per call
// keeps the fuzz target under the per-key rate limit).
func (e *importEnv) handler() http.Handler {
	a := &api.API{Store: e.st, Agents: noAgents{}, Log: slog.New(slog.DiscardHandler),
		Bundles: api.Bundler{Dir: e.dir, Key: e.key, KB: e.kb}}
	return a.Handler()
}

// do calls the API as L2 and decodes a JSON answer into out, if given.
func (e *importEnv) do(t testing.TB, method, path string, body []byte, out any) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+importKey)
	rec := httptest.NewRecorder()
	e.handler().ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return rec.Code, string(b)
}

// agentIDs lists the IDs of every agent in the store.
func (e *importEnv) agentIDs(t testing.TB) []string {
	t.Helper()
	list, err := e.st.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

// deliver stores a full snapshot as the agent itself delivered it.
func (e *importEnv) deliver(t testing.TB, agentID string, seq uint64, at time.Time) int64 {
	t.Helper()
	id, _, err := e.st.PutSnapshot(context.Background(), &store.Snapshot{Document: protocol.Document{
		AgentID: agentID, BootEpoch: 1, Seq: seq, Kind: "full", CapturedAt: at,
		Probes: []protocol.ProbeJSON{{Name: "memory", Data: json.RawMessage(`{"total":8589934592}`)}},
	}, ReceivedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// importDoc is a snapshot document captured at at, of the machine host,
// with the given probe data for probe "memory".
func importDoc(at time.Time, host, data string) []byte {
	return fmt.Appendf(nil, `{"kind":"full","captured_at":%q,"facts":{"hostname":%q,"host_id":%q},"probes":[{"name":"memory","duration_ms":1.5,"data":%s}]}`,
		at.UTC().Format(time.RFC3339Nano), host, "id-"+host, data)
}

// TestImportRefusedLeavesNoAgent: a document that fails validation is
// refused before anything is written: no agent appears for its machine.
func TestImportRefusedLeavesNoAgent(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	before := e.agentIDs(t)
	for name, doc := range map[string][]byte{
		"bad probe name":  bytes.Replace(importDoc(time.Now(), "pc-new-1", `{}`), []byte(`"memory"`), []byte(`"../../x"`), 1),
		"invalid UTF-8":   importDoc(time.Now(), "pc-new-2", "{\"a\":\"caf\xe9\"}"),
		"dated ahead":     importDoc(time.Now().Add(time.Hour), "pc-new-3", `{}`),
		"unknown field":   bytes.Replace(importDoc(time.Now(), "pc-new-4", `{}`), []byte(`"kind"`), []byte(`"extra":1,"kind"`), 1),
		"negative length": bytes.Replace(importDoc(time.Now(), "pc-new-5", `{}`), []byte(`1.5`), []byte(`-1`), 1),
	} {
		if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import", doc, nil); code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d %s, want 400", name, code, body)
		}
	}
	if after := e.agentIDs(t); !equal(before, after) {
		t.Fatalf("refused imports left agents behind: before %v, after %v", before, after)
	}
	// A good one records the machine, with its snapshot, marked imported.
	var res api.ImportResult
	if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import", importDoc(time.Now(), "pc-new-1", `{}`), &res); code != http.StatusCreated {
		t.Fatalf("a good import: HTTP %d %s", code, body)
	}
	if !strings.HasPrefix(res.AgentID, store.ImportedAgentPrefix) || res.SnapshotID == 0 {
		t.Fatalf("a good import: %+v", res)
	}
	var snap store.Snapshot
	e.do(t, "GET", fmt.Sprintf("/api/v1/snapshots/%d", res.SnapshotID), nil, &snap)
	if !snap.Imported {
		t.Errorf("GET of an imported snapshot does not say imported: %+v", snap)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// TestImportMessages: refusals say what is wrong.
func TestImportMessages(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	ahead := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	for name, c := range map[string]struct {
		doc  []byte
		want []string
	}{
		"invalid UTF-8": {importDoc(time.Now(), "pc-m", "{\"a\":\"caf\xe9\"}"), []string{"probe memory data has invalid UTF-8 at byte 9"}},
		"dated ahead": {importDoc(ahead, "pc-m", `{}`), []string{"capture time " + ahead.UTC().Format(time.RFC3339),
			"ahead of the collector's clock (" + time.Now().UTC().Format("2006-01-02T"), "check the machine's clock"}},
	} {
		code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import?agent=enrolled", c.doc, nil)
		if code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the answer does not say %q: %s", name, w, body)
			}
		}
		if strings.Contains(body, "not JSON") {
			t.Errorf("%s: %s", name, body)
		}
	}
}

// TestImportNeverAnEnrolledAgentsLatest: an import filed under an enrolled
// agent is stored and shown as imported, but the agent's latest snapshot,
// its findings, the default diff and a bundle's fallback are what the
// agent delivered; named by ID, the import is used and marked. For a
// machine known only from imports, imports are what there is.
func TestImportNeverAnEnrolledAgentsLatest(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	now := time.Now()
	first := e.deliver(t, "enrolled", 1, now.Add(-2*time.Hour))
	second := e.deliver(t, "enrolled", 2, now.Add(-time.Hour))

	// Newer than anything delivered.
	var imp api.ImportResult
	if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import?agent=enrolled", importDoc(now.Add(-time.Minute), "pc-enrolled", `{}`), &imp); code != http.StatusCreated {
		t.Fatalf("import under an enrolled agent: HTTP %d %s", code, body)
	}
	if imp.AgentID != "enrolled" {
		t.Fatalf("filed under %s", imp.AgentID)
	}

	var list []store.Snapshot
	e.do(t, "GET", "/api/v1/agents/enrolled/snapshots", nil, &list)
	if len(list) != 3 || list[0].ID != imp.SnapshotID || !list[0].Imported || list[1].Imported {
		t.Errorf("the agent's snapshots: %+v", list)
	}

	var d api.DiffView
	if code, body := e.do(t, "GET", "/api/v1/agents/enrolled/diff", nil, &d); code != 200 || d.ToID != second || d.FromID != first || d.ToImported || d.FromImported {
		t.Errorf("default diff: HTTP %d %s", code, body)
	}
	if code, body := e.do(t, "GET", fmt.Sprintf("/api/v1/agents/enrolled/diff?to=%d", imp.SnapshotID), nil, &d); code != 200 || d.ToID != imp.SnapshotID || !d.ToImported || d.FromID != second {
		t.Errorf("diff to the import by ID: HTTP %d %s", code, body)
	}

	var detail struct {
		Assets []struct {
			Machine struct {
				SnapshotID int64 `json:"snapshot_id"`
				Imported   bool  `json:"imported"`
			} `json:"machine"`
		} `json:"assets"`
	}
	if code, body := e.do(t, "GET", "/api/v1/tickets/T-1", nil, &detail); code != 200 || len(detail.Assets) != 1 || detail.Assets[0].Machine.SnapshotID != second {
		t.Errorf("the ticket's machine: HTTP %d %s", code, body)
	}

	var b struct {
		SnapshotID int64  `json:"snapshot_id"`
		Note       string `json:"note"`
	}
	if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/bundles", []byte(`{"agent":"enrolled"}`), &b); code != http.StatusCreated || b.SnapshotID != second {
		t.Errorf("a bundle of the offline agent: HTTP %d %s", code, body)
	}

	// A machine known only from imports.
	var only api.ImportResult
	if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import", importDoc(now.Add(-time.Minute), "pc-offline", `{}`), &only); code != http.StatusCreated {
		t.Fatalf("import of a new machine: HTTP %d %s", code, body)
	}
	var ag struct {
		Machine struct {
			SnapshotID int64 `json:"snapshot_id"`
			Imported   bool  `json:"imported"`
		} `json:"machine"`
	}
	if code, body := e.do(t, "GET", "/api/v1/agents/"+only.AgentID, nil, &ag); code != 200 || ag.Machine.SnapshotID != only.SnapshotID || !ag.Machine.Imported {
		t.Errorf("a machine known from imports only: HTTP %d %s", code, body)
	}
	if code, body := e.do(t, "POST", "/api/v1/tickets/T-1/bundles", []byte(`{"agent":"`+only.AgentID+`"}`), &b); code != http.StatusCreated || b.SnapshotID != only.SnapshotID || !strings.Contains(b.Note, "imported from a file") {
		t.Errorf("a bundle of a machine known from imports only: HTTP %d %s", code, body)
	}
}

// FuzzImport posts arbitrary documents to the import endpoint: whatever is
// refused leaves no agent and no snapshot behind; whatever is accepted is
// stored as an import, dated no later than the collector's clock allows.
// Each run goes through SQLite, which coverage instrumentation makes slow
// under -fuzz (a few runs a second): its seeds guard the order of checks
// and writes; FuzzParseDocument fuzzes the decoder itself at speed.
func FuzzImport(f *testing.F) {
	now := time.Now()
	for _, s := range [][]byte{
		importDoc(now, "pc-fuzz", `{"total":1}`),
		importDoc(now.Add(-24*time.Hour), "pc-fuzz", `{}`),
		importDoc(now.Add(time.Hour), "pc-fuzz", `{}`),                // dated ahead
		importDoc(now.Add(protocol.MaxClockAhead/2), "pc-fuzz", `{}`), // within the tolerance
		importDoc(now, "pc-fuzz", "{\"a\":\"caf\xe9\"}"),              // not UTF-8
		importDoc(now, "pc-fuzz", `{"a":`),
		bytes.Replace(importDoc(now, "pc-fuzz", `{}`), []byte(`"memory"`), []byte(`"../x"`), 1),
		[]byte(`{}`), []byte(`null`), []byte(`{"facts":{"hostname":"x"}}`),
		[]byte(`{"agent_id":"enrolled","kind":"full","captured_at":"2026-01-01T00:00:00Z"}`),
	} {
		f.Add(s)
	}
	e := newImportEnv(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		agents := e.agentIDs(t)
		snaps := countSnapshots(t, e, agents)
		var res api.ImportResult
		code, body := e.do(t, "POST", "/api/v1/tickets/T-1/import", doc, &res)
		if code != http.StatusCreated {
			if after := e.agentIDs(t); !equal(agents, after) {
				t.Fatalf("HTTP %d %s left agents behind: %v, then %v", code, body, agents, after)
			}
			if after := countSnapshots(t, e, agents); after != snaps {
				t.Fatalf("HTTP %d %s changed the snapshots: %d, then %d", code, body, snaps, after)
			}
			return
		}
		snap, err := e.st.Snapshot(context.Background(), res.SnapshotID)
		if err != nil {
			t.Fatal(err)
		}
		if !snap.Imported || snap.AgentID != res.AgentID || snap.CapturedAt.After(time.Now().Add(protocol.MaxClockAhead)) {
			t.Fatalf("accepted %q as %+v", doc, snap)
		}
	})
}

func countSnapshots(t *testing.T, e *importEnv, agents []string) int {
	t.Helper()
	n := 0
	for _, id := range agents {
		list, err := e.st.Snapshots(context.Background(), id, store.SnapshotFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(list)
	}
	return n
}

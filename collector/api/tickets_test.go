package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
)

// ticketOn opens ticket ref on agent and attaches a bundle of the agent's
// latest stored snapshot (the agent is offline).
func (e *importEnv) ticketOn(t *testing.T, ref, agent string) {
	t.Helper()
	body, _ := json.Marshal(api.TicketOpen{Ref: ref, Title: "problem on " + agent, Agents: []string{agent}})
	if code, out := e.do(t, "POST", "/api/v1/tickets", body, nil); code != http.StatusCreated {
		t.Fatalf("opening %s: HTTP %d %s", ref, code, out)
	}
	if code, out := e.do(t, "POST", "/api/v1/tickets/"+ref+"/bundles", fmt.Appendf(nil, `{"agent":%q}`, agent), nil); code != http.StatusCreated {
		t.Fatalf("a bundle on %s: HTTP %d %s", ref, code, out)
	}
}

func (e *importEnv) ticket(t *testing.T, ref string) api.TicketView {
	t.Helper()
	var v api.TicketView
	if code, out := e.do(t, "GET", "/api/v1/tickets/"+ref, nil, &v); code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", ref, code, out)
	}
	return v
}

func ids(fs []api.AgentFinding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	slices.Sort(out)
	return out
}

// TestTicketEvidencePinned: a ticket's findings are those of the
// snapshots in its own bundles, with their time, and stay so when the
// machine changes; the machine's state now is shown apart, marked where
// it differs. Another ticket's fault never shows up as evidence.
func TestTicketEvidencePinned(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	s1 := apitest.PutCase(t, e.st, "enrolled", "busy-machine", t0)
	e.ticketOn(t, "INC-1001", "enrolled")
	cpu := ids(e.ticket(t, "INC-1001").Findings)
	if !slices.Contains(cpu, "process.cpu-hog") || slices.Contains(cpu, "disk.almost-full") {
		t.Fatalf("INC-1001's evidence: %v", cpu)
	}

	// The machine's disk fills later; another ticket takes that.
	s2 := apitest.PutCase(t, e.st, "enrolled", "full-disk-failed-service", t0.Add(time.Hour))
	e.ticketOn(t, "INC-1002", "enrolled")

	v := e.ticket(t, "INC-1001")
	if got := ids(v.Findings); !slices.Equal(got, cpu) {
		t.Errorf("INC-1001's evidence drifted with the machine:\n got %v\nwant %v", got, cpu)
	}
	for _, f := range v.Findings {
		if f.SnapshotID != s1 || f.BundleID == 0 || !f.CapturedAt.Equal(t0) || f.Change != api.ChangeGone {
			t.Errorf("INC-1001 evidence %s: snapshot %d bundle %d captured %v change %q; want snapshot %d, a bundle, %v, gone",
				f.ID, f.SnapshotID, f.BundleID, f.CapturedAt, f.Change, s1, t0)
		}
		if f.KB == nil || len(f.KB.Steps) == 0 || f.Evidence == nil {
			t.Errorf("INC-1001 evidence %s lacks its fix or its figures for L2", f.ID)
		}
	}
	if !slices.Contains(ids(v.Now), "disk.almost-full") {
		t.Errorf("INC-1001 does not show the machine now: %v", ids(v.Now))
	}
	for _, f := range v.Now {
		if f.SnapshotID != s2 || f.Change != api.ChangeNew {
			t.Errorf("INC-1001 now %s: snapshot %d change %q, want %d new", f.ID, f.SnapshotID, f.Change, s2)
		}
	}
	if got := ids(e.ticket(t, "INC-1002").Findings); slices.Contains(got, "process.cpu-hog") || !slices.Contains(got, "disk.almost-full") {
		t.Errorf("INC-1002's evidence: %v", got)
	}
}

// TestSimilarTicketsRankOnLeadingFindings: resolved tickets are ranked by
// what they share of the ticket's leading findings, the same finding on
// the same subject first, and say why; a ticket that shares nothing of
// weight is not similar.
func TestSimilarTicketsRankOnLeadingFindings(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	at := time.Now().Add(-time.Hour)
	for _, c := range []struct{ ref, agent, fixture string }{
		{"R-DISK", "a-disk", "full-disk-failed-service"}, // resolved first: oldest
		{"R-SKEW", "a-skew", "clock-skew"},
		{"R-WIN", "a-win", "windows"}, // resolved last: newest
	} {
		apitest.PutCase(t, e.st, c.agent, c.fixture, at)
		e.ticketOn(t, c.ref, c.agent)
		if code, out := e.do(t, "POST", "/api/v1/tickets/"+c.ref+"/actions", []byte(`{"action":"resolve"}`), nil); code != http.StatusOK {
			t.Fatalf("resolving %s: %d %s", c.ref, code, out)
		}
	}
	apitest.PutCase(t, e.st, "a-new", "full-disk-failed-service", at)
	e.ticketOn(t, "INC-2", "a-new")
	var got []string
	for _, s := range e.ticket(t, "INC-2").Similar {
		got = append(got, s.Ref+": "+strings.Join(s.Why, "; "))
	}
	want := []string{
		"R-DISK: disk.almost-full on / (critical); service.failed on cups.service (warning)",
		"R-WIN: service.failed (warning)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("similar tickets of INC-2:\n got %q\nwant %q", got, want)
	}
}

// TestImportFiledUnderEnrolledMachine: a file from an enrolled machine
// that does not name its agent goes to that agent, marked imported, not
// to a second agent of the same host; the same file twice is one
// snapshot and one timeline entry, which names the snapshot. A clone (the
// same host ID, another name) is a machine of its own.
func TestImportFiledUnderEnrolledMachine(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	before := e.agentIDs(t)
	doc := fmt.Appendf(nil, `{"kind":"full","captured_at":%q,"facts":{"hostname":"PC-Enrolled","host_id":"host-enrolled"},"probes":[{"name":"memory","duration_ms":1,"data":{}}]}`,
		time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano))
	var first, second api.ImportResult
	if code, out := e.do(t, "POST", "/api/v1/tickets/T-1/import", doc, &first); code != http.StatusCreated {
		t.Fatalf("import: %d %s", code, out)
	}
	if code, out := e.do(t, "POST", "/api/v1/tickets/T-1/import", doc, &second); code != http.StatusCreated {
		t.Fatalf("second import: %d %s", code, out)
	}
	if first.AgentID != "enrolled" || first.Duplicate || second.SnapshotID != first.SnapshotID || !second.Duplicate {
		t.Errorf("imports: first %+v, second %+v; want both on agent enrolled, the second a duplicate", first, second)
	}
	if after := e.agentIDs(t); !equal(before, after) {
		t.Errorf("the import made an agent: before %v, after %v", before, after)
	}
	snap, err := e.st.Snapshot(context.Background(), first.SnapshotID)
	if err != nil || !snap.Imported {
		t.Errorf("the snapshot is not marked imported: %v", err)
	}
	v := e.ticket(t, "T-1")
	var imports []string
	for _, ev := range v.Events {
		if ev.Kind == "import" {
			imports = append(imports, ev.What())
		}
	}
	if want := fmt.Sprintf("imported snapshot %d from a file", first.SnapshotID); !slices.Equal(imports, []string{want}) {
		t.Errorf("timeline imports: %q, want one %q", imports, want)
	}
	if !slices.Equal(v.Agents, []string{"enrolled"}) {
		t.Errorf("ticket machines: %v", v.Agents)
	}
	clone := bytes.Replace(doc, []byte("PC-Enrolled"), []byte("pc-clone"), 1)
	var res api.ImportResult
	if code, out := e.do(t, "POST", "/api/v1/tickets/T-1/import", clone, &res); code != http.StatusCreated || store.Delivers(res.AgentID) {
		t.Errorf("a clone's file: %d %s, filed under %s", code, out, res.AgentID)
	}
}

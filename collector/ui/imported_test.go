package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestImportedMarked: an enrolled agent's page shows what the agent
// delivered as its latest full snapshot and findings, never an import filed
// under it; the import is in its history, marked; a snapshot stored at the
// collector's time because the agent's clock was ahead is marked too. A
// machine known only from imports shows its import, marked.
func TestImportedMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.AddAgent(ctx, store.Agent{ID: "a-real", Facts: protocol.Facts{Hostname: "pc-real"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	full := func(agentID string, epoch int64, seq uint64, at time.Time) *store.Snapshot {
		return &store.Snapshot{Document: protocol.Document{AgentID: agentID, BootEpoch: epoch, Seq: seq, Kind: "full", CapturedAt: at,
			Probes: []protocol.ProbeJSON{{Name: "memory", Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, seq))}}}, ReceivedAt: at}
	}
	delivered := full("a-real", 1, 1, time.Now().Add(-time.Hour))
	delivered.AgentCapturedAt = time.Now().Add(24 * time.Hour)
	did, _, err := e.st.PutSnapshot(ctx, delivered)
	if err != nil {
		t.Fatal(err)
	}
	iid, _, err := e.st.ImportSnapshot(ctx, store.Agent{ID: "a-real"}, full("a-real", protocol.ImportedEpoch, 2, time.Now().Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	_, page := e.get(t, c, "/agents/a-real")
	if want := fmt.Sprintf("Snapshot %d <span class=\"badge adjusted\"", did); !strings.Contains(page, want) {
		t.Errorf("the latest full snapshot is not the delivered one, marked clock adjusted (%q):\n%s", want, page)
	}
	if !strings.Contains(page, fmt.Sprintf("Findings as of 1 h ago (snapshot %d), a full snapshot captured", did)) {
		t.Errorf("the findings do not come from the delivered snapshot:\n%s", page)
	}
	if !regexp.MustCompile(fmt.Sprintf(`<td>%d <span class="badge imported"[^>]*>imported</span></td>`, iid)).MatchString(page) {
		t.Errorf("the history does not mark the import:\n%s", page)
	}

	oid, _, err := e.st.ImportSnapshot(ctx, store.Agent{ID: store.ImportedAgentPrefix + "00ff", Facts: protocol.Facts{Hostname: "pc-offline"}},
		full(store.ImportedAgentPrefix+"00ff", protocol.ImportedEpoch, 3, time.Now().Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	_, page = e.get(t, c, "/agents/"+store.ImportedAgentPrefix+"00ff")
	for _, want := range []string{
		fmt.Sprintf("Snapshot %d <span class=\"badge imported\"", oid),
		fmt.Sprintf("Findings as of 1 min ago (snapshot %d), a full snapshot <span class=\"badge imported\"", oid),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("a machine known from imports only: the page lacks %q:\n%s", want, page)
		}
	}
	_, page = e.get(t, c, fmt.Sprintf("/agents/a-real/diff?from=%d&to=%d", did, iid))
	if !strings.Contains(page, fmt.Sprintf(`→ %d <span class="badge imported">imported</span>`, iid)) {
		t.Errorf("the diff to an import does not mark it:\n%s", page)
	}
}

package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestDiffFromBeforeTheFirstSnapshot: `sonde diff AGENT --from 10m` on a
// machine enrolled five minutes ago answers from its oldest snapshot and
// says so, instead of a 404; a machine with one full snapshot still has
// nothing to compare.
func TestDiffFromBeforeTheFirstSnapshot(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	now := time.Now()
	for _, id := range []string{"young", "lonely"} {
		if err := e.st.AddAgent(t.Context(), store.Agent{ID: id, Facts: protocol.Facts{Hostname: "pc-" + id}, EnrolledAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	first := e.deliver(t, "young", 1, now.Add(-5*time.Minute))
	second := e.deliver(t, "young", 2, now.Add(-time.Minute))

	var d api.DiffView
	code, body := e.do(t, "GET", "/api/v1/agents/young/diff?from=10m", nil, &d)
	if code != http.StatusOK || d.FromID != first || d.ToID != second {
		t.Fatalf("diff from 10m: HTTP %d %s", code, body)
	}
	if len(d.Diff.Notes) != 1 || !strings.Contains(d.Diff.Notes[0], "compared from the oldest, captured ") {
		t.Errorf("notes %q, want one saying the oldest snapshot stands in", d.Diff.Notes)
	}
	// Within the history, no note.
	d = api.DiffView{}
	if code, body := e.do(t, "GET", "/api/v1/agents/young/diff?from=3m", nil, &d); code != http.StatusOK || d.FromID != first || len(d.Diff.Notes) != 0 {
		t.Errorf("diff from 3m: HTTP %d %s", code, body)
	}

	e.deliver(t, "lonely", 1, now.Add(-time.Minute))
	if code, body := e.do(t, "GET", "/api/v1/agents/lonely/diff?from=10m", nil, nil); code != http.StatusNotFound || !strings.Contains(body, "no full snapshot at or before") {
		t.Errorf("one snapshot, from 10m: HTTP %d %s", code, body)
	}
}

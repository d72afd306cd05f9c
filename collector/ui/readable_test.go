package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/protocol"
)

// TestAgentPageReadable: the agent page shows sizes, durations and times
// for people, never raw byte counts or Unix epochs; its process list and
// its findings say how old they are; once the agent has reported health
// minutes after the full snapshot, the process list says it may be stale.
func TestAgentPageReadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apitest.PutFixture(t, e.st, "a-disk") // snapshot 1, captured 2026-11-24 22:14 UTC
	captured := time.Date(2026, 11, 24, 22, 14, 21, 41e6, time.UTC)
	c := e.login(t, "l2")
	_, page := e.get(t, c, "/agents/a-disk")
	page = html.UnescapeString(page)
	for _, want := range []string{
		"total_bytes: 252 GiB",    // the root file system, 270553174016 bytes
		"rss_bytes: 719 MiB",      // firefox, 754438656 bytes
		"Memory</th><td>24 GiB",   // the facts, 25276026880 bytes
		"boot_time: ",             // then how long ago, and when:
		", 2026-11-24 21:38 UTC",  // 1795556326
		"utc_offset_seconds: 0 s", // a duration
		"rtt_ms: ",                // in ms, not raw
		`<span class="muted as-of">as of ` + render.Ago(captured, time.Now()) + " (snapshot 1)</span>",
		`id="findings-age">Findings as of ` + render.Ago(captured, time.Now()) + " (snapshot 1), a full snapshot captured",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("agent page lacks %q", want)
		}
	}
	for _, raw := range []string{"270553174016", "754438656", "1795556326", "may be stale"} {
		if strings.Contains(page, raw) {
			t.Errorf("agent page shows %q", raw)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}

	// The agent reports health a minute ago: the process list of the full
	// snapshot is days older; the findings come from the health sample.
	health := &store.Snapshot{Document: protocol.Document{AgentID: "a-disk", BootEpoch: 1, Seq: 1, Kind: "health", CapturedAt: time.Now().Add(-time.Minute),
		Probes: []protocol.ProbeJSON{{Name: "cpu", Data: json.RawMessage(`{"usage_percent": 3}`)}}}, ReceivedAt: time.Now()}
	if _, _, err := e.st.PutSnapshot(context.Background(), health); err != nil {
		t.Fatal(err)
	}
	_, page = e.get(t, c, "/agents/a-disk")
	for _, want := range []string{
		`<span class="badge stale">may be stale</span></summary>`,
		`<p class="notice stale">This list may be stale: the agent reported health `,
		`id="findings-age">Findings as of 1 min ago (snapshot 2), a health snapshot`,
		`id="latest-health">Latest health sample 1 min ago, `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("with a newer health sample, the agent page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, `id="findings-stale"`) {
		t.Error("findings from the latest health sample called stale")
	}
	if n := strings.Count(page, "may be stale</span>"); n != 1 {
		t.Errorf("%d probes marked stale, want the process list alone", n)
	}
}

// TestL2StepsOnPages: the agent page and the ticket page show L2 the
// knowledge base's steps for L2 under each finding, headed "For L2:", with
// their commands as code; L1 sees the user's steps alone.
func TestL2StepsOnPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apitest.PutFixture(t, e.st, "a-disk")
	l1, l2 := e.login(t, "l1"), e.login(t, "l2")
	e.submit(t, l1, "/tickets", url.Values{"ref": {"INC-9"}, "title": {"disk full"}, "agents": {"a-disk"}})
	step := "<li>Confirm and see the trend: <code>sonde snapshot AGENT --probes disk</code> for the mount"
	for _, path := range []string{"/agents/a-disk", "/tickets/INC-9"} {
		_, page := e.get(t, l2, path)
		if !strings.Contains(page, "<strong>For L2:</strong>") || !strings.Contains(page, step) ||
			!strings.Contains(page, "<code>journalctl -u UNIT -b --no-pager | tail -50</code>") {
			t.Errorf("L2's %s lacks the steps for L2:\n%s", path, page)
		}
		_, page = e.get(t, l1, path)
		if !strings.Contains(page, "<li>Empty the trash or recycle bin.</li>") || strings.Contains(page, "For L2:") {
			t.Errorf("L1's %s lacks the user's steps or shows L2's:\n%s", path, page)
		}
	}
}

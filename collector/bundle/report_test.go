package bundle_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

func open(t *testing.T, b []byte, name string) string {
	t.Helper()
	data, err := bundle.Open(b, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func healthyFixture(t *testing.T) *protocol.Document {
	t.Helper()
	b, err := os.ReadFile("../../findings/testdata/healthy/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestReport: both renderings of the report say what the bundle holds:
// the note about a stale snapshot, the findings numbered with their
// knowledge-base steps, the changes, and the probes' data readable.
func TestReport(t *testing.T) {
	snap := fixture(t)
	const note = "agent offline: this is the latest stored snapshot"
	b, m, _ := build(t, &bundle.Input{Ticket: "INC-7", AgentID: snap.AgentID, SnapshotID: 7, Snapshot: snap, Note: note,
		Previous: fixture(t), PreviousID: 6, Healthy: healthyFixture(t), HealthyID: 5, Created: time.Now()})
	if m.Facts.Hostname != "ws-0042" || m.Facts.Platform != "debian" || m.Note != note || m.Fresh {
		t.Errorf("manifest: facts %+v, note %q, fresh %v", m.Facts, m.Note, m.Fresh)
	}
	kb, err := findings.LoadKB("")
	if err != nil {
		t.Fatal(err)
	}

	text := open(t, b, "report.txt")
	if !strings.Contains(text, "\nNOTE: "+note+"\n") {
		t.Errorf("report.txt lacks the note:\n%s", text)
	}
	if len(m.Findings) < 2 {
		t.Fatalf("findings %v, want the full disk and the failed service", m.Findings)
	}
	if !strings.Contains(text, fmt.Sprintf("\nFINDINGS (%d)\n1. [", len(m.Findings))) || strings.Contains(text, "  none\n") {
		t.Errorf("report.txt does not list the findings from 1:\n%s", text)
	}
	for i, id := range m.Findings {
		line := fmt.Sprintf("\n%d. [", i+1)
		at := strings.Index(text, line)
		if at < 0 || !strings.Contains(text[at:], "("+id+")") {
			t.Errorf("report.txt lacks finding %d, %s", i+1, id)
			continue
		}
		e, ok := kb.Entry(id)
		if !ok || len(e.Steps) == 0 {
			t.Fatalf("no knowledge-base steps for %s", id)
		}
		if !strings.Contains(text, "\n   - "+e.Steps[0]+"\n") {
			t.Errorf("report.txt lacks the first step for %s, %q", id, e.Steps[0])
		}
	}
	for _, s := range []string{"\nCHANGES SINCE THE PREVIOUS SNAPSHOT (6)\n", "\nCHANGES SINCE THE LAST HEALTHY SNAPSHOT (5)\n", "\nSNAPSHOT\n"} {
		if !strings.Contains(text, s) {
			t.Errorf("report.txt lacks %q", strings.TrimSpace(s))
		}
	}

	html := open(t, b, "report.html")
	if !strings.Contains(html, `<p class="note">`+note+`</p>`) {
		t.Errorf("report.html lacks the note")
	}
	// Probe data is shown indented, as people read it.
	if !strings.Contains(html, "\n  &#34;hostname&#34;: &#34;ws-0042&#34;,\n") || strings.Contains(html, "(unreadable)") {
		t.Errorf("report.html does not show the probes' data indented")
	}
}

// TestReportWithout: a fresh bundle without findings, note or facts says
// so and carries none of their parts.
func TestReportWithout(t *testing.T) {
	snap := healthyFixture(t)
	b, m, _ := build(t, &bundle.Input{Ticket: "INC-8", AgentID: snap.AgentID, Snapshot: snap, Fresh: true, Created: time.Now()})
	text := open(t, b, "report.txt")
	if len(m.Findings) != 0 || !strings.Contains(text, "\nFINDINGS (0)\n  none\n") {
		t.Errorf("findings %v; report.txt:\n%s", m.Findings, text)
	}
	for _, s := range []string{"NOTE:", "CHANGES SINCE", "HANDOVER"} {
		if strings.Contains(text, s) {
			t.Errorf("report.txt has %q:\n%s", s, text)
		}
	}
	if strings.Contains(open(t, b, "report.html"), `class="note"`) {
		t.Error("report.html has a note")
	}

	// No facts (a snapshot from an agent whose facts probe failed).
	snap.Facts = nil
	_, m, _ = build(t, &bundle.Input{Ticket: "INC-9", AgentID: snap.AgentID, Snapshot: snap, Created: time.Now()})
	if m.Facts != (protocol.Facts{}) {
		t.Errorf("facts from nowhere: %+v", m.Facts)
	}
}

// TestZipOrder: the manifest and its signature come first, so a streaming
// reader has them before the rest, then the reports people open.
func TestZipOrder(t *testing.T) {
	snap := fixture(t)
	b, _, _ := build(t, &bundle.Input{Ticket: "INC-7", AgentID: snap.AgentID, Snapshot: snap, Previous: fixture(t),
		Healthy: healthyFixture(t), Created: time.Now(), Handover: &bundle.Handover{Ticket: ticket.Ticket{Ref: "INC-7"}}})
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := "manifest.json manifest.sig report.html report.txt timeline.txt ticket.json findings.json snapshot.json diff-previous.json diff-healthy.json history.json"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("zip order\n got %s\nwant %s", got, want)
	}
}

// TestTimeline: a handover's timeline shows each event with its actor,
// action and object, in ticket.json and as text, on its own and in
// report.txt, followed by the evidence the ticket pinned, redacted.
func TestTimeline(t *testing.T) {
	snap := fixture(t)
	at := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	tk := ticket.Ticket{Ref: "INC-7", Title: "printer offline", Tier: ticket.L3, Status: ticket.Escalated, Assignee: "bob",
		CreatedBy: "amy", CreatedAt: at}
	events := []ticket.Event{
		{ID: 1, At: at, Actor: "amy", Kind: "opened", Text: "printer offline"},
		{ID: 2, At: at.Add(time.Minute), Actor: "amy", Kind: "assign", To: "bob"},
		{ID: 3, At: at.Add(2 * time.Minute), Actor: "bob", Kind: "note", Text: "restarted cups, no change"},
		{ID: 4, At: at.Add(3 * time.Minute), Actor: "bob", Kind: "escalate", From: "l2", To: "l3", Text: "driver issue"},
		{ID: 5, At: at.Add(4 * time.Minute), Actor: "bob", Kind: "bundle", Bundle: 4, Snapshot: 9},
	}
	evidence := []bundle.Pinned{{AgentID: snap.AgentID, SnapshotID: 9, BundleID: 4, CapturedAt: at.Add(4 * time.Minute),
		Ranked: bundle.Ranked{Finding: findings.Finding{ID: "service.failed", Severity: findings.Warning,
			Title: "cups failed: exec cupsd --password=hunter2"}}}}
	b, m, _ := build(t, &bundle.Input{Ticket: "INC-7", AgentID: snap.AgentID, Snapshot: snap, Created: time.Now(),
		Handover: &bundle.Handover{Ticket: tk, Events: events, Evidence: evidence}})
	if m.Kind != bundle.KindHandover {
		t.Errorf("kind %q", m.Kind)
	}
	want := "ticket INC-7: printer offline\n" +
		"status escalated, tier L3, assignee bob, opened by amy on 2026-11-24T09:30:00Z\n\n" +
		"2026-11-24 09:30  amy          opened the ticket\n" +
		"2026-11-24 09:31  amy          assigned it to bob\n" +
		"2026-11-24 09:32  bob          added a note: restarted cups, no change\n" +
		"2026-11-24 09:33  bob          escalated it L2 → L3: driver issue\n" +
		"2026-11-24 09:34  bob          attached bundle 4 (snapshot 9)\n" +
		"\nevidence pinned to the ticket:\n" +
		"  [WARNING] cups failed: exec cupsd --password=[REDACTED:cli-flag-secret]  (service.failed; bundle 4, snapshot 9, captured 2026-11-24 09:34)\n"
	if got := open(t, b, "timeline.txt"); got != want {
		t.Errorf("timeline.txt\n got %q\nwant %q", got, want)
	}
	if text := open(t, b, "report.txt"); !strings.Contains(text, "\nHANDOVER\n"+want) {
		t.Errorf("report.txt lacks the timeline:\n%s", text)
	}
	var h bundle.Handover
	if err := json.Unmarshal([]byte(open(t, b, "ticket.json")), &h); err != nil {
		t.Fatal(err)
	}
	if h.Ticket.Ref != "INC-7" || h.Ticket.Title != tk.Title || len(h.Events) != len(events) || h.Events[3].Text != "driver issue" {
		t.Errorf("ticket.json: %+v", h)
	}
}

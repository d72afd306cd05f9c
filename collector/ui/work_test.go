package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api/apitest"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

func TestTicketForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.st.AddAgent(context.Background(), store.Agent{ID: "a1", Facts: protocol.Facts{Hostname: "ws-0001", OS: "linux"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	to, page := e.submit(t, c, "/tickets", url.Values{"ref": {"INC-1"}, "title": {"VPN <drops> hourly"}, "agents": {"ws-0001"}})
	if to != "/tickets/INC-1" || !strings.Contains(page, "Ticket INC-1 opened.") || !strings.Contains(page, "VPN &lt;drops&gt; hourly") || !strings.Contains(page, "ws-0001") {
		t.Fatalf("open ticket: to %s\n%s", to, page)
	}
	// A refused form comes back with the operation's message.
	if to, page := e.submit(t, c, "/tickets", url.Values{"ref": {"INC-1"}, "title": {"again"}}); to != "/tickets" || !strings.Contains(page, "ticket INC-1 exists already") {
		t.Fatalf("open a ticket twice: to %s\n%s", to, page)
	}
	act := func(form url.Values, want string) string {
		t.Helper()
		to, page := e.submit(t, c, "/tickets/INC-1/action", form)
		if to != "/tickets/INC-1" || !strings.Contains(page, want) {
			t.Fatalf("action %v: to %s, want %q\n%s", form, to, want, page)
		}
		return page
	}
	act(url.Values{"action": {"assign"}, "assignee": {"alice"}}, "Assigned to alice.")
	act(url.Values{"action": {"note"}, "text": {"asked the user to reboot"}}, "asked the user to reboot")
	act(url.Values{"action": {"reopen"}}, "nothing to reopen")
	page = act(url.Values{"action": {"escalate"}, "to": {"l3"}, "text": {"kernel"}}, "Escalated to L3.")
	if !strings.Contains(page, `id="status">escalated<`) {
		t.Errorf("status after escalation:\n%s", page)
	}
	// At L3 the ticket is L3's to work: L2 may still add notes.
	page = act(url.Values{"action": {"resolve"}, "text": {"driver rolled back"}}, "ticket INC-1 is at L3")
	if !strings.Contains(page, "driver rolled back</textarea>") {
		t.Errorf("the refused action lost what was typed:\n%s", page)
	}
	c = e.login(t, "l3")
	act(url.Values{"action": {"resolve"}, "text": {"driver rolled back"}}, "Resolved.")
	act(url.Values{"action": {"close"}}, "Closed.")
	page = act(url.Values{"action": {"resolve"}}, "reopen it first")
	if !strings.Contains(page, `value="reopen"`) || strings.Contains(page, `value="resolve"`) {
		t.Errorf("a closed ticket offers the wrong moves:\n%s", page)
	}
	// The list filters by status and machine.
	for q, want := range map[string]bool{"?status=closed": true, "?status=new": false, "?agent=ws-0001": true, "?tier=l2": false} {
		_, body := e.get(t, c, "/tickets"+q)
		if got := strings.Contains(body, `href="/tickets/INC-1"`); got != want {
			t.Errorf("/tickets%s lists INC-1: %v", q, got)
		}
	}
	if resp, body := e.get(t, c, "/tickets?agent=nosuch"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no agent with ID or hostname") {
		t.Errorf("filter on an unknown agent: %d", resp.StatusCode)
	}
	// Roles come from the operations: L1 may add notes but not close.
	l1 := e.login(t, "l1")
	if _, page := e.submit(t, l1, "/tickets/INC-1/action", url.Values{"action": {"reopen"}}); !strings.Contains(page, "may reopen tickets at L1 at most") {
		t.Errorf("l1 reopening:\n%s", page)
	}
	if _, page := e.submit(t, l1, "/tickets/INC-1/action", url.Values{"action": {"note"}, "text": {"user called again"}}); !strings.Contains(page, "Note added.") {
		t.Errorf("l1 note:\n%s", page)
	}
}

func TestAgentDiagnostics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apitest.PutFixture(t, e.st, "a-disk")
	c := e.login(t, "l2")
	_, list := e.get(t, c, "/?q=debian")
	if !strings.Contains(list, "ws-0042") || !strings.Contains(list, `class="sev critical"`) || !strings.Contains(list, "offline") {
		t.Fatalf("agents list:\n%s", list)
	}
	if _, none := e.get(t, c, "/?q=windows"); strings.Contains(none, "ws-0042") {
		t.Error("the search for windows finds a debian machine")
	}
	resp, page := e.get(t, c, "/agents/a-disk")
	for _, want := range []string{"disk.almost-full", "service.failed", "<details", "<summary><strong>disk</strong>", `id="take-snapshot"`, `id="history"`, "AMD EPYC"} {
		if resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Errorf("agent page lacks %q", want)
		}
	}
	// By hostname too, as everywhere in Sonde.
	if resp, _ := e.get(t, c, "/agents/ws-0042"); resp.StatusCode != 200 {
		t.Errorf("agent page by hostname: %d", resp.StatusCode)
	}
	if resp, body := e.get(t, c, "/agents/nosuch"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no agent with ID or hostname") {
		t.Errorf("unknown agent: %d", resp.StatusCode)
	}
	if _, page := e.submit(t, c, "/agents/a-disk/snapshot", nil); !strings.Contains(page, "is offline; last seen 20") {
		t.Errorf("snapshot of an offline agent:\n%s", page)
	}
	if resp, body := e.get(t, c, "/agents/a-disk/diff"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "only one full snapshot") {
		t.Errorf("diff with one snapshot: %d", resp.StatusCode)
	}

	// A bundle from the stored snapshot goes onto the ticket, and downloads.
	e.submit(t, c, "/tickets", url.Values{"ref": {"INC-7"}, "title": {"disk full"}})
	if to, page := e.submit(t, c, "/agents/a-disk/bundle", url.Values{"ticket": {"INC-404"}}); to != "/agents/a-disk" || !strings.Contains(page, "ticket INC-404: not found") {
		t.Errorf("bundle for an unknown ticket: to %s", to)
	}
	to, page := e.submit(t, c, "/agents/a-disk/bundle", url.Values{"ticket": {"INC-7"}, "pseudonymize": {"1"}})
	if to != "/tickets/INC-7" || !strings.Contains(page, "Bundle 1 attached to INC-7. No fresh snapshot") || !strings.Contains(page, `href="/bundles/1/download"`) {
		t.Fatalf("attach bundle: to %s\n%s", to, page)
	}
	resp, zip := e.get(t, c, "/bundles/1/download")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(zip, "PK") {
		t.Fatalf("download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := e.get(t, c, "/bundles/99/download"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("download of a missing bundle: %d", resp.StatusCode)
	}

	// L1 sees the machine and its findings as the user could, not its
	// snapshots, and cannot take one outside its own tickets.
	l1 := e.login(t, "l1")
	_, page = e.get(t, l1, "/agents/a-disk")
	for _, bad := range []string{"take-snapshot", "<details", `id="history"`, "attach-bundle"} {
		if strings.Contains(page, bad) {
			t.Errorf("agent page for l1 shows %q:\n%s", bad, page)
		}
	}
	if !strings.Contains(page, "ws-0042") || !strings.Contains(page, "disk.almost-full") {
		t.Errorf("agent page for l1 lacks the machine or its findings:\n%s", page)
	}
	if _, page := e.submit(t, l1, "/agents/a-disk/snapshot", nil); !strings.Contains(page, "has role l1; snapshot.take needs l2") {
		t.Errorf("l1 taking a snapshot:\n%s", page)
	}
	if resp, _ := e.get(t, l1, "/bundles/1/download"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("l1 download: %d", resp.StatusCode)
	}
}

// TestL1Pages: the pages offer L1 what it may do and nothing else — its
// own ticket at L1 can be worked, evidence attached and handed to L2, but
// not downloaded; once at L2 the ticket takes L1's notes only.
func TestL1Pages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apitest.PutFixture(t, e.st, "a-disk")
	l1 := e.login(t, "l1")
	if _, page := e.get(t, l1, "/tickets"); strings.Contains(page, `id="tier"`) {
		t.Errorf("L1 is offered a choice of tiers to open at:\n%s", page)
	}
	to, page := e.submit(t, l1, "/tickets", url.Values{"ref": {"INC-5"}, "title": {"slow"}, "agents": {"ws-0042"}})
	if to != "/tickets/INC-5" {
		t.Fatalf("L1 opening a ticket: to %s\n%s", to, page)
	}
	for _, want := range []string{`value="note"`, `value="assign"`, `value="start"`, `value="resolve"`, `value="close"`, `value="escalate"`, `<option value="l2">`, "Attach a fresh snapshot of ws-0042", "disk.almost-full"} {
		if !strings.Contains(page, want) {
			t.Errorf("L1's own ticket at L1 lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, `<option value="l3">`) || strings.Contains(page, `id="assignee-in"`) || !strings.Contains(page, "Assign to me") {
		t.Errorf("L1 is offered escalation to L3, or to assign to others:\n%s", page)
	}
	to, page = e.submit(t, l1, "/agents/a-disk/bundle", url.Values{"ticket": {"INC-5"}, "from": {"ticket"}})
	if to != "/tickets/INC-5" || !strings.Contains(page, "Bundle 1 attached to INC-5") || strings.Contains(page, "/bundles/1/download") || !strings.Contains(page, "for L2") {
		t.Errorf("L1 attaching evidence: to %s\n%s", to, page)
	}
	page = e.act(t, l1, "INC-5", url.Values{"action": {"escalate"}, "to": {"l2"}, "text": {"needs L2"}})
	for _, gone := range []string{`value="assign"`, `value="start"`, `value="resolve"`, `value="close"`, `value="escalate"`} {
		if strings.Contains(page, gone) {
			t.Errorf("L1's ticket at L2 still offers %s:\n%s", gone, page)
		}
	}
	// A refused move keeps the note typed with it.
	page = e.act(t, l1, "INC-5", url.Values{"action": {"resolve"}, "text": {"fixed it myself"}})
	if !strings.Contains(page, "ticket INC-5 is at L2") || !strings.Contains(page, "fixed it myself</textarea>") {
		t.Errorf("a refused move as L1:\n%s", page)
	}
	if _, page := e.get(t, l1, "/alerts"); strings.Contains(page, "silence-form") {
		t.Errorf("L1 is offered silences:\n%s", page)
	}
	if _, page := e.get(t, e.login(t, "l2"), "/tickets/INC-5"); !strings.Contains(page, "/bundles/1/download") {
		t.Errorf("L2 does not get L1's evidence:\n%s", page)
	}
}

func (e *env) act(t *testing.T, c *http.Client, ref string, form url.Values) string {
	t.Helper()
	_, page := e.submit(t, c, "/tickets/"+ref+"/action", form)
	return page
}

// TestSnapshotSharedSaysSo: past the per-agent limit the UI's snapshot
// button gets the snapshot the machine took moments before for another
// request, and says it is shared, and how old, as `sonde snapshot` does.
func TestSnapshotSharedSaysSo(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.st.AddAgent(ctx, store.Agent{ID: "a-busy", Facts: protocol.Facts{Hostname: "pc-busy"}, Probes: []string{"cpu"}, EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	id, _, err := e.st.PutSnapshot(ctx, &store.Snapshot{Document: protocol.Document{
		AgentID: "a-busy", BootEpoch: 1, Seq: 1, Kind: "full", RequestID: "rq-other", CapturedAt: time.Now().Add(-3 * time.Second),
		Probes: []protocol.ProbeJSON{{Name: "cpu", Data: json.RawMessage(`{"cores":2}`)}},
	}, ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	var page string
	for range 25 { // past the limit (the agent is offline here: each asks)
		_, page = e.submit(t, c, "/agents/a-busy/snapshot", nil)
	}
	want := fmt.Sprintf("Snapshot %d, shared: the machine is being asked for more than its limit, so this is the snapshot it took 3", id)
	if !strings.Contains(page, want) {
		t.Errorf("the last of 25 snapshots asked in a row:\n%s\nwant %q", page, want)
	}
}

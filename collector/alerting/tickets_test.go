package alerting

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

// fleet opens a store with agents ag1..agN, each with one full snapshot.
func fleet(t *testing.T, n int) *api.API {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := os.ReadFile("../../findings/testdata/health/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var doc protocol.Document
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		id := "ag" + string(rune('1'+i))
		doc.AgentID, doc.Kind, doc.Seq = id, "full", 1
		if err := st.AddAgent(ctx, store.Agent{ID: id, Facts: *doc.Facts, EnrolledAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.PutSnapshot(ctx, &store.Snapshot{Document: doc, ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Agents: apitest.Offline{}, Bundles: api.Bundler{Dir: t.TempDir(), Key: key}}
	a.Handler() // sets the defaults
	return a
}

// TestTicketDedup fires, resolves and fires again one fingerprint: one
// ticket, one bundle, a note per transition; once the ticket is closed,
// the next firing opens a second one.
func TestTicketDedup(t *testing.T) {
	a := fleet(t, 1)
	ctx := context.Background()
	tk := &Tickets{API: a}
	tk.Start(t.Context(), 10) // sets the defaults; jobs below run directly
	t.Cleanup(tk.Wait)
	fp := "00aa11bb22cc33dd"
	for range 3 {
		tk.handle(ctx, ticketJob{ts: []alert.Transition{transition(alert.KindFiring, fp, "ag1")}})
		tk.handle(ctx, ticketJob{ts: []alert.Transition{transition(alert.KindResolved, fp, "ag1")}})
	}
	tickets, err := a.Store.Tickets(ctx, store.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tickets) != 1 || tickets[0].Ref != "ALERT-00aa11bb" {
		t.Fatalf("tickets: %+v", tickets)
	}
	if bs, _ := a.Store.Bundles(ctx, "ALERT-00aa11bb"); len(bs) != 1 {
		t.Fatalf("%d bundles, want 1", len(bs))
	}
	events, _ := a.Store.TicketEvents(ctx, "ALERT-00aa11bb")
	notes := 0
	for _, e := range events {
		if e.Kind == ticket.ActNote {
			notes++
		}
	}
	if notes != 6 {
		t.Errorf("%d notes, want 6: %+v", notes, events)
	}

	ctx2 := api.WithCaller(ctx, Actor, api.DoorAlerts)
	for _, act := range []string{ticket.ActResolve, ticket.ActClose} {
		if _, err := a.ActOnTicket(ctx2, "ALERT-00aa11bb", ticket.Request{Action: act, Text: "done"}); err != nil {
			t.Fatal(act, err)
		}
	}
	tk.handle(ctx, ticketJob{ts: []alert.Transition{transition(alert.KindFiring, fp, "ag1")}})
	if _, err := a.Store.Ticket(ctx, "ALERT-00aa11bb-2"); err != nil {
		t.Errorf("after closing, a new firing: %v", err)
	}
}

// TestIncidentTicket groups machines firing the same rule into one
// incident ticket, a note per machine.
func TestIncidentTicket(t *testing.T) {
	a := fleet(t, 3)
	ctx := context.Background()
	tk := &Tickets{API: a}
	tk.Start(t.Context(), 10)
	t.Cleanup(tk.Wait)
	var firing []alert.Alert
	for i, ag := range []string{"ag1", "ag2", "ag3"} {
		tr := transition(alert.KindFiring, string(rune('a'+i))+"0aa11bb22cc33dd", ag)
		firing = append(firing, tr.Alert)
		tk.handle(ctx, ticketJob{ts: []alert.Transition{tr}, firing: firing})
	}
	ref := "INCIDENT-DiskAlmostFull-" + time.Now().UTC().Format("20060102")
	inc, err := a.Store.Ticket(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(inc.Agents, ",") != "ag1,ag2,ag3" {
		t.Errorf("incident agents: %v", inc.Agents)
	}
	events, _ := a.Store.TicketEvents(ctx, ref)
	if len(events) != 4 { // opened + 3 machines
		t.Errorf("incident events: %+v", events)
	}
	for _, ag := range []string{"ag1", "ag2", "ag3"} {
		if ts, _ := a.Store.Tickets(ctx, store.TicketFilter{Agent: ag}); len(ts) < 2 {
			t.Errorf("%s is on %d tickets, want its own and the incident", ag, len(ts))
		}
	}
}

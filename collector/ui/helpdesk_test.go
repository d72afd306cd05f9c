package ui_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/courier"
	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/rt"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// TestTicketLinkedToHelpdesk: the ticket page links a ticket to the
// customer's helpdesk, shows the link to the helpdesk's own page, and
// what the courier sent there; unlinking takes it away.
func TestTicketLinkedToHelpdesk(t *testing.T) {
	conn, err := rt.New(helpdesk.Settings{Config: helpdesk.Config{Name: "rt", Kind: "rt", URL: "https://rt.example.com", Queue: "General"}, Secret: "s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	e := newEnvWith(t, apitest.Offline{}, func(a *api.API) {
		st = a.Store
		a.Helpdesks = &courier.Courier{Store: a.Store, Connectors: map[string]helpdesk.Connector{"rt": conn}}
	})
	ctx := t.Context()
	now := time.Now()
	if _, err := st.CreateTicket(ctx, ticket.Ticket{Ref: "INC-7", Title: "VPN drops", Tier: ticket.L2, Status: ticket.New, CreatedBy: "x", CreatedAt: now, UpdatedAt: now},
		ticket.Event{At: now, Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	_, page := e.get(t, c, "/tickets/INC-7")
	if !strings.Contains(page, `id="link"`) || !strings.Contains(page, `<option value="rt"`) {
		t.Fatalf("the ticket page offers no link to a helpdesk:\n%s", page)
	}
	page = e.act(t, c, "INC-7", url.Values{"action": {"link"}, "helpdesk": {"rt"}, "external": {" 1234 "}})
	if !strings.Contains(page, "helpdesk rt: 1234.") {
		t.Errorf("no word that the link was made:\n%s", page)
	}
	if !strings.Contains(page, `<a href="https://rt.example.com/Ticket/Display.html?id=1234" rel="noreferrer">rt 1234</a>`) {
		t.Errorf("the page does not link to RT's ticket:\n%s", page)
	}
	if err := st.PlanDeliveries(ctx, now); err != nil {
		t.Fatal(err)
	}
	snap := apitest.PutCase(t, st, "a1", "full-disk-failed-service", time.Time{})
	if _, err := st.AddBundle(ctx, store.Bundle{Kind: "bundle", Ticket: "INC-7", AgentID: "a1", SnapshotID: snap, SHA256: strings.Repeat("ab", 32), CreatedAt: now, CreatedBy: "x", Path: "b.zip"},
		ticket.Event{At: now, Kind: "bundle"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PlanDeliveries(ctx, now); err != nil {
		t.Fatal(err)
	}
	_, page = e.get(t, c, "/tickets/INC-7")
	if !strings.Contains(page, `id="deliveries"`) || !strings.Contains(page, "findings of bundle 1: waiting") || !strings.Contains(page, "file of bundle 1: waiting") {
		t.Errorf("the page does not show what is to be sent:\n%s", page)
	}
	page = e.act(t, c, "INC-7", url.Values{"action": {"link"}, "unlink": {"1"}, "helpdesk": {"rt"}, "external": {"1234"}})
	if !strings.Contains(page, "Linked to no helpdesk.") || strings.Contains(page, `rel="noreferrer">rt 1234`) {
		t.Errorf("unlinking:\n%s", page)
	}
	if strings.Contains(page, "s3cret-token") {
		t.Error("the page carries the connector's secret")
	}
}

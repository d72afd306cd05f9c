package alerting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/courier"
	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/rt"
	"github.com/sondehq/sonde/collector/store"
)

// TestTicketOpensInHelpdesk: a rule that names a helpdesk and a queue has
// its proactive ticket opened there too (the courier's open step, then its
// bundle); a rule naming a helpdesk the collector lacks keeps its ticket
// here and says why.
func TestTicketOpensInHelpdesk(t *testing.T) {
	a := fleet(t, 2)
	conn, err := rt.New(helpdesk.Settings{Config: helpdesk.Config{Name: "rt", Kind: "rt", URL: "https://rt.example.com", Queue: "General"}, Secret: "token"})
	if err != nil {
		t.Fatal(err)
	}
	a.Helpdesks = &courier.Courier{Store: a.Store, Connectors: map[string]helpdesk.Connector{"rt": conn}}
	ctx := context.Background()
	tk := &Tickets{API: a}
	tk.Start(t.Context(), 10)
	t.Cleanup(tk.Wait)

	tr := transition(alert.KindFiring, "00aa11bb22cc33dd", "ag1")
	tr.Alert.Helpdesk, tr.Alert.Queue = "rt", "Hardware"
	tk.handle(ctx, ticketJob{ts: []alert.Transition{tr}})
	tk.handle(ctx, ticketJob{ts: []alert.Transition{tr}}) // a flap: no second link
	got, err := a.Store.Ticket(ctx, "ALERT-00aa11bb")
	if err != nil || got.Helpdesk != "rt" || got.Queue != "Hardware" || got.External != "" {
		t.Fatalf("the proactive ticket: %+v, %v; want it to open in rt's Hardware queue", got, err)
	}
	if err := a.Store.PlanDeliveries(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	ds, err := a.Store.Deliveries(ctx, got.Ref)
	if err != nil || len(ds) != 1 || ds[0].Step != store.StepOpen {
		t.Fatalf("its outbox: %+v, %v; want one open", ds, err)
	}
	if bs, _ := a.Store.Bundles(ctx, got.Ref); len(bs) != 1 {
		t.Fatalf("%d bundles on it, want 1 (delivered once it is open there)", len(bs))
	}

	tr = transition(alert.KindFiring, "11bb22cc33dd44ee", "ag2")
	tr.Alert.Helpdesk = "jira"
	if err := tk.transition(api.WithCaller(ctx, Actor, api.DoorAlerts), tr); err == nil || !strings.Contains(err.Error(), `no helpdesk named "jira" is configured`) {
		t.Fatalf("a rule naming a helpdesk the collector lacks: %v", err)
	}
	if got, err := a.Store.Ticket(ctx, "ALERT-11bb22cc"); err != nil || got.Helpdesk != "" {
		t.Fatalf("its ticket: %+v, %v; want it here, unlinked", got, err)
	}
}

package sqlite_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

func linkedTicket(t *testing.T, s store.Store, ref string, bundles int, link ticket.Request) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.CreateTicket(ctx, ticket.Ticket{Ref: ref, Title: "disk full", Tier: ticket.L2, Status: ticket.New, CreatedBy: "alice", CreatedAt: base, UpdatedAt: base},
		ticket.Event{At: base, Actor: "alice", Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	for i := range bundles {
		if _, err := s.AddBundle(ctx, store.Bundle{Kind: "bundle", Ticket: ref, AgentID: "a1", SnapshotID: int64(i + 1), SHA256: "ab", Size: 10, CreatedAt: base, CreatedBy: "alice", Path: "/x"},
			ticket.Event{At: base, Actor: "alice", Kind: "bundle"}); err != nil {
			t.Fatal(err)
		}
	}
	link.Action = ticket.ActLink
	if _, err := s.UpdateTicket(ctx, ref, func(tk *ticket.Ticket) (ticket.Event, error) { return ticket.Apply(tk, link, "alice", base) }); err != nil {
		t.Fatal(err)
	}
}

func steps(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Step+" "+d.Marker+" "+d.External)
	}
	return out
}

// The outbox is derived from the tickets: planning twice adds nothing,
// a ticket to open gets an open step first, and a ticket's later steps
// wait behind its earlier ones.
func TestDeliveriesPlanned(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	linkedTicket(t, s, "SND-1", 2, ticket.Request{Helpdesk: "rt", External: "17"})
	linkedTicket(t, s, "SND-2", 1, ticket.Request{Helpdesk: "rt", Queue: "General"})
	linkedTicket(t, s, "SND-3", 1, ticket.Request{})
	for range 2 {
		if err := s.PlanDeliveries(ctx, base); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.Deliveries(ctx, "SND-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"comment sonde:SND-1/bundle-1/comment 17", "attach sonde-SND-1-bundle-1.zip 17", "comment sonde:SND-1/bundle-2/comment 17", "attach sonde-SND-1-bundle-2.zip 17"}
	if got := steps(ds); len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[3] != want[3] {
		t.Fatalf("SND-1's steps = %q, want %q", got, want)
	}
	if ds, _ := s.Deliveries(ctx, "SND-2"); len(ds) != 1 || ds[0].Step != store.StepOpen || ds[0].Marker != "sonde:SND-2" {
		t.Fatalf("SND-2's steps = %q, want one open", steps(ds))
	}
	if ds, _ := s.Deliveries(ctx, "SND-3"); len(ds) != 0 {
		t.Fatalf("an unlinked ticket has steps: %q", steps(ds))
	}

	due, err := s.DueDeliveries(ctx, "rt", base, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := steps(due); len(got) != 2 || got[1] != want[0] || got[0] != "open sonde:SND-2 " {
		t.Fatalf("due = %q; want SND-1's first step and SND-2's open", got)
	}
	first := due[1]
	if err := s.AttemptDelivery(ctx, first.ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FailDelivery(ctx, first.ID, "HTTP 500", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDeliveries(ctx, "rt", base.Add(30*time.Second), 10); len(due) != 1 || due[0].Step != store.StepOpen {
		t.Fatalf("before the retry is due: %q; want SND-2's open alone (SND-1's later steps wait)", steps(due))
	}
	due, _ = s.DueDeliveries(ctx, "rt", base.Add(time.Minute), 10)
	if len(due) != 2 || due[1].ID != first.ID || due[1].Attempts != 1 || due[1].State != store.DeliveryFailed || due[1].LastError != "HTTP 500" {
		t.Fatalf("when the retry is due: %+v", due)
	}
	if err := s.FinishDelivery(ctx, first.ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDelivery(ctx, first.ID, base.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finishing a sent step again: %v; want ErrNotFound", err)
	}
	if due, _ := s.DueDeliveries(ctx, "rt", base.Add(time.Minute), 10); len(due) != 2 || due[1].Marker != "sonde-SND-1-bundle-1.zip" {
		t.Fatalf("after the first step: %q; want the attach next", steps(due))
	}
	counts, err := s.DeliveryCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0] != (store.DeliveryCount{Helpdesk: "rt", State: "pending", Count: 4}) || counts[1] != (store.DeliveryCount{Helpdesk: "rt", State: "sent", Count: 1}) {
		t.Fatalf("counts = %+v", counts)
	}

	if tk, err := s.TicketByExternal(ctx, "", "17"); err != nil || tk.Ref != "SND-1" {
		t.Fatalf("TicketByExternal(17) = %s, %v", tk.Ref, err)
	}
	if _, err := s.TicketByExternal(ctx, "redmine", "17"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TicketByExternal(redmine, 17): %v; want ErrNotFound", err)
	}
	if ts, err := s.LinkedTickets(ctx, "rt"); err != nil || len(ts) != 1 || ts[0].Ref != "SND-1" {
		t.Fatalf("LinkedTickets(rt) = %v, %v; want SND-1 (SND-2 has no key yet)", ts, err)
	}
}

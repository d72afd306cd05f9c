package access_test

import (
	"testing"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

func key(role string) store.APIKey { return store.APIKey{Name: role + "-user", Role: role} }

// TestOpenCeilings: a role opens tickets at its own tier at most; a ticket
// goes higher by escalation, which the KPIs count.
func TestOpenCeilings(t *testing.T) {
	for _, c := range []struct {
		role, tier string
		ok         bool
	}{
		{"l1", "l1", true}, {"l1", "l2", false}, {"l1", "l3", false},
		{"l2", "l1", true}, {"l2", "l2", true}, {"l2", "l3", false},
		{"l3", "l3", true}, {"admin", "l3", true}, {"", "l1", false},
	} {
		if err := access.Open(key(c.role), c.tier); (err == nil) != c.ok || err != nil && !access.IsDenied(err) {
			t.Errorf("%s opening at %s: %v, want allowed %v", c.role, c.tier, err, c.ok)
		}
	}
}

// TestTicketCeilings: anyone may note; L1 escalates to L2 only, and works
// (assigns to itself, starts, resolves, closes, reopens) tickets at L1
// only; L2 works L1 and L2 tickets and escalates to L3; L3 works all.
func TestTicketCeilings(t *testing.T) {
	at := func(tier string) ticket.Ticket { return ticket.Ticket{Ref: "T", Tier: tier, CreatedBy: "someone"} }
	for _, c := range []struct {
		role string
		t    ticket.Ticket
		req  ticket.Request
		ok   bool
	}{
		{"l1", at("l3"), ticket.Request{Action: "note"}, true},
		{"l1", at("l1"), ticket.Request{Action: "escalate", To: "l2"}, true},
		{"l1", at("l1"), ticket.Request{Action: "escalate", To: "l3"}, false},
		{"l1", at("l1"), ticket.Request{Action: "start"}, true},
		{"l1", at("l1"), ticket.Request{Action: "resolve"}, true},
		{"l1", at("l1"), ticket.Request{Action: "close"}, true},
		{"l1", at("l1"), ticket.Request{Action: "reopen"}, true},
		{"l1", at("l1"), ticket.Request{Action: "assign", Assignee: "l1-user"}, true},
		{"l1", at("l1"), ticket.Request{Action: "assign", Assignee: " l1-user "}, true},
		{"l1", at("l1"), ticket.Request{Action: "assign", Assignee: "bob"}, false},
		{"l1", at("l2"), ticket.Request{Action: "resolve"}, false},
		{"l1", at("l2"), ticket.Request{Action: "close"}, false},
		{"l1", at("l2"), ticket.Request{Action: "assign", Assignee: "l1-user"}, false},
		{"l2", at("l2"), ticket.Request{Action: "assign", Assignee: "bob"}, true},
		{"l2", at("l2"), ticket.Request{Action: "escalate", To: "l3"}, true},
		{"l2", at("l3"), ticket.Request{Action: "resolve"}, false},
		{"l2", at("l1"), ticket.Request{Action: "resolve"}, true},
		{"l3", at("l3"), ticket.Request{Action: "close"}, true},
		{"admin", at("l3"), ticket.Request{Action: "reopen"}, true},
		{"", at("l1"), ticket.Request{Action: "note"}, false},
	} {
		if err := access.Ticket(key(c.role), c.t, c.req); (err == nil) != c.ok {
			t.Errorf("%s %s %+v on a ticket at %s: %v, want allowed %v", c.role, c.req.Action, c.req, c.t.Tier, err, c.ok)
		}
	}
	if got := access.EscalateTo(key("l1"), at("l1")); len(got) != 1 || got[0] != "l2" {
		t.Errorf("L1 may escalate an L1 ticket to %v, want [l2]", got)
	}
	if got := access.Actions(key("l1"), at("l2")); len(got) != 1 || got[0] != "note" {
		t.Errorf("L1's actions on an L2 ticket: %v, want [note]", got)
	}
}

// TestAttach: L1 attaches evidence to its own tickets (opened by it or
// assigned to it), of the ticket's machines; L2 and above anywhere.
func TestAttach(t *testing.T) {
	mine := ticket.Ticket{Ref: "T", Tier: "l1", CreatedBy: "l1-user", Agents: []string{"a1"}}
	assigned := ticket.Ticket{Ref: "U", Tier: "l2", CreatedBy: "x", Assignee: "l1-user", Agents: []string{"a1"}}
	theirs := ticket.Ticket{Ref: "V", Tier: "l1", CreatedBy: "x", Agents: []string{"a1"}}
	for _, c := range []struct {
		role  string
		t     ticket.Ticket
		agent string
		ok    bool
	}{
		{"l1", mine, "a1", true}, {"l1", assigned, "a1", true}, {"l1", theirs, "a1", false},
		{"l1", mine, "a2", false}, {"l2", theirs, "a2", true}, {"", mine, "a1", false},
	} {
		if err := access.Attach(key(c.role), c.t, c.agent); (err == nil) != c.ok {
			t.Errorf("%s attaching %s to %s: %v, want allowed %v", c.role, c.agent, c.t.Ref, err, c.ok)
		}
	}
}

func TestViews(t *testing.T) {
	for role, want := range map[string]access.View{"": access.Summary, "l1": access.Summary, "l2": access.Evidence, "l3": access.Evidence, "admin": access.Evidence} {
		if got := access.ViewOf(key(role)); got != want {
			t.Errorf("%q sees %v, want %v", role, got, want)
		}
	}
	if access.Audited(key("l1"), access.ReadTicket) || !access.Audited(key("l2"), access.ReadTicket) {
		t.Error("a ticket read is on the record when, and only when, it shows evidence")
	}
}

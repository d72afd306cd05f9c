package ticket_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/ticket"
)

// The intended life-cycle, written down before looking at Apply. A row is
// "from this state, this action": the state it leads to, or refused (a
// conflict: the API answers 409). The ticket's tier does not matter for any
// action but escalate, whose tier rules are in escalationRule.
//
//	action    new          in_progress  escalated    resolved     closed
//	note      (unchanged)  (unchanged)  (unchanged)  (unchanged)  (unchanged)
//	assign    in_progress  (unchanged)  (unchanged)  (unchanged)  refused
//	start     in_progress  refused      in_progress  refused      refused
//	escalate  escalated    escalated    escalated    refused      refused
//	resolve   resolved     resolved     resolved     refused      refused
//	close     closed       closed       closed       closed       refused
//	reopen    refused      refused      refused      in_progress  in_progress
//
// Besides:
//   - a note needs text; an assign needs an assignee of 1 to MaxName bytes;
//     escalate names l2 or l3 (any case); text is at most MaxText bytes.
//     A malformed request is invalid (400) whatever the state: the state is
//     judged only for a well-formed request.
//   - escalation goes up: to a tier above the ticket's, never to its own
//     or a lower one (a conflict). It sets the tier, the status escalated and
//     counts one escalation; the event goes from the old tier to the new one.
//   - reopen counts one reopen.
//   - assign sets the assignee; its event goes from the old assignee to the
//     new one, even when it also starts a new ticket.
//   - any other move that changes the status has an event from the old
//     status to the new; one that does not (a note) has neither.
//   - a refused or invalid request leaves the ticket exactly as it was; an
//     applied one sets UpdatedAt.
const refused = "refused"

var lifeCycle = map[string]map[string]string{
	ticket.ActNote:     {ticket.New: ticket.New, ticket.InProgress: ticket.InProgress, ticket.Escalated: ticket.Escalated, ticket.Resolved: ticket.Resolved, ticket.Closed: ticket.Closed},
	ticket.ActAssign:   {ticket.New: ticket.InProgress, ticket.InProgress: ticket.InProgress, ticket.Escalated: ticket.Escalated, ticket.Resolved: ticket.Resolved, ticket.Closed: refused},
	ticket.ActStart:    {ticket.New: ticket.InProgress, ticket.InProgress: refused, ticket.Escalated: ticket.InProgress, ticket.Resolved: refused, ticket.Closed: refused},
	ticket.ActEscalate: {ticket.New: ticket.Escalated, ticket.InProgress: ticket.Escalated, ticket.Escalated: ticket.Escalated, ticket.Resolved: refused, ticket.Closed: refused},
	ticket.ActResolve:  {ticket.New: ticket.Resolved, ticket.InProgress: ticket.Resolved, ticket.Escalated: ticket.Resolved, ticket.Resolved: refused, ticket.Closed: refused},
	ticket.ActClose:    {ticket.New: ticket.Closed, ticket.InProgress: ticket.Closed, ticket.Escalated: ticket.Closed, ticket.Resolved: ticket.Closed, ticket.Closed: refused},
	ticket.ActReopen:   {ticket.New: refused, ticket.InProgress: refused, ticket.Escalated: refused, ticket.Resolved: ticket.InProgress, ticket.Closed: ticket.InProgress},
}

// escalationRule: from a ticket at tier, may it be escalated to tier to?
// Only upwards.
var escalationRule = map[[2]string]bool{
	{ticket.L1, ticket.L2}: true, {ticket.L1, ticket.L3}: true,
	{ticket.L2, ticket.L2}: false, {ticket.L2, ticket.L3}: true,
	{ticket.L3, ticket.L2}: false, {ticket.L3, ticket.L3}: false,
}

var (
	states  = []string{ticket.New, ticket.InProgress, ticket.Escalated, ticket.Resolved, ticket.Closed}
	tiers   = []string{ticket.L1, ticket.L2, ticket.L3}
	created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	now     = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
)

// sample is a ticket in the given state at the given tier, with counters
// that are not zero so that a reset would show.
func sample(status, tier string) ticket.Ticket {
	return ticket.Ticket{Ref: "INC-4711", Title: "printer offline", Agents: []string{"a1"}, Tier: tier,
		Assignee: "bob", Status: status, CreatedBy: "carol", CreatedAt: created, UpdatedAt: created,
		Escalations: 1, Reopened: 2}
}

// request is a well-formed request for action; for escalate, to to.
func request(action, to string) ticket.Request {
	r := ticket.Request{Action: action, Text: "  why: see the bundle  "}
	switch action {
	case ticket.ActAssign:
		r.Assignee = " alice "
	case ticket.ActEscalate:
		r.To = to
	}
	return r
}

// TestLifeCycle applies every action, from every state, at every tier, and
// compares the outcome with the table above.
func TestLifeCycle(t *testing.T) {
	for action, byState := range lifeCycle {
		for _, status := range states {
			for _, tier := range tiers {
				targets := []string{""}
				if action == ticket.ActEscalate {
					targets = []string{ticket.L2, ticket.L3}
				}
				for _, to := range targets {
					t.Run(fmt.Sprintf("%s%s/from-%s/at-%s", action, to, status, tier), func(t *testing.T) {
						checkMove(t, status, tier, request(action, to), byState[status])
					})
				}
			}
		}
	}
}

func checkMove(t *testing.T, status, tier string, req ticket.Request, wantStatus string) {
	t.Helper()
	before := sample(status, tier)
	tk := before
	ev, err := ticket.Apply(&tk, req, "dave", now)

	want := before
	if req.Action == ticket.ActEscalate && wantStatus != refused && !escalationRule[[2]string{tier, req.To}] {
		wantStatus = refused
	}
	if wantStatus == refused {
		if !errors.Is(err, ticket.ErrConflict) || errors.Is(err, ticket.ErrInvalid) {
			t.Fatalf("Apply = %v, want a conflict", err)
		}
		if !strings.Contains(err.Error(), before.Ref) {
			t.Errorf("the refusal %q does not name the ticket", err)
		}
		if !reflect.DeepEqual(tk, before) {
			t.Errorf("a refused move changed the ticket:\n got %+v\nwant %+v", tk, before)
		}
		return
	}
	if err != nil {
		t.Fatalf("Apply = %v, want status %s", err, wantStatus)
	}
	want.Status, want.UpdatedAt = wantStatus, now
	wantFrom, wantTo := "", ""
	if wantStatus != status {
		wantFrom, wantTo = status, wantStatus
	}
	switch req.Action {
	case ticket.ActAssign:
		want.Assignee = "alice"
		wantFrom, wantTo = "bob", "alice"
	case ticket.ActEscalate:
		want.Tier = req.To
		want.Escalations++
		wantFrom, wantTo = tier, req.To
	case ticket.ActReopen:
		want.Reopened++
	}
	if !reflect.DeepEqual(tk, want) {
		t.Errorf("ticket after the move:\n got %+v\nwant %+v", tk, want)
	}
	wantEv := ticket.Event{At: now, Actor: "dave", Kind: req.Action, Text: "why: see the bundle", From: wantFrom, To: wantTo}
	if ev != wantEv {
		t.Errorf("event:\n got %+v\nwant %+v", ev, wantEv)
	}
}

// TestEscalationGoesUp spells out the escalation cases the table folds
// together: the same tier and a lower one are refused with a conflict,
// whatever the working state, and do not count.
func TestEscalationGoesUp(t *testing.T) {
	for _, c := range []struct {
		tier, to string
		ok       bool
	}{
		{ticket.L1, ticket.L1, false}, // not a tier one escalates to
		{ticket.L1, ticket.L2, true},
		{ticket.L1, ticket.L3, true},
		{ticket.L2, ticket.L2, false},
		{ticket.L2, ticket.L3, true},
		{ticket.L3, ticket.L3, false},
		{ticket.L3, ticket.L2, false},
	} {
		for _, status := range []string{ticket.New, ticket.InProgress, ticket.Escalated} {
			tk := sample(status, c.tier)
			_, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActEscalate, To: c.to}, "dave", now)
			switch {
			case c.to == ticket.L1:
				if !errors.Is(err, ticket.ErrInvalid) {
					t.Errorf("escalate %s ticket at %s to %s: %v, want invalid", status, c.tier, c.to, err)
				}
			case c.ok:
				if err != nil || tk.Tier != c.to || tk.Escalations != 2 || tk.Status != ticket.Escalated {
					t.Errorf("escalate %s ticket at %s to %s: %v, %+v", status, c.tier, c.to, err, tk)
				}
			default:
				if !errors.Is(err, ticket.ErrConflict) || tk.Tier != c.tier || tk.Escalations != 1 || tk.Status != status {
					t.Errorf("escalate %s ticket at %s to %s: %v, %+v; want a conflict and no change", status, c.tier, c.to, err, tk)
				}
				if err != nil && !strings.Contains(err.Error(), strings.ToUpper(c.tier)) {
					t.Errorf("the refusal %q does not say the ticket is at %s", err, strings.ToUpper(c.tier))
				}
			}
		}
	}
	// The tier is named in any case.
	tk := sample(ticket.New, ticket.L1)
	if ev, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActEscalate, To: "L3"}, "dave", now); err != nil || tk.Tier != ticket.L3 || ev.To != ticket.L3 {
		t.Errorf("escalate to L3: %v, %+v, %+v", err, tk, ev)
	}
}

// TestCountersAccumulate walks one ticket through a life: escalations and
// reopens add up, other moves leave them alone.
func TestCountersAccumulate(t *testing.T) {
	tk := ticket.Ticket{Ref: "INC-1", Tier: ticket.L1, Status: ticket.New}
	steps := []struct {
		req                   ticket.Request
		status, tier          string
		escalations, reopened int
	}{
		{ticket.Request{Action: ticket.ActAssign, Assignee: "amy"}, ticket.InProgress, ticket.L1, 0, 0},
		{ticket.Request{Action: ticket.ActEscalate, To: ticket.L2}, ticket.Escalated, ticket.L2, 1, 0},
		{ticket.Request{Action: ticket.ActStart}, ticket.InProgress, ticket.L2, 1, 0},
		{ticket.Request{Action: ticket.ActResolve}, ticket.Resolved, ticket.L2, 1, 0},
		{ticket.Request{Action: ticket.ActReopen}, ticket.InProgress, ticket.L2, 1, 1},
		{ticket.Request{Action: ticket.ActEscalate, To: ticket.L3}, ticket.Escalated, ticket.L3, 2, 1},
		{ticket.Request{Action: ticket.ActClose}, ticket.Closed, ticket.L3, 2, 1},
		{ticket.Request{Action: ticket.ActReopen}, ticket.InProgress, ticket.L3, 2, 2},
		{ticket.Request{Action: ticket.ActNote, Text: "again"}, ticket.InProgress, ticket.L3, 2, 2},
	}
	for i, s := range steps {
		if _, err := ticket.Apply(&tk, s.req, "amy", now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatalf("step %d %s: %v", i, s.req.Action, err)
		}
		if tk.Status != s.status || tk.Tier != s.tier || tk.Escalations != s.escalations || tk.Reopened != s.reopened {
			t.Fatalf("after step %d %s: %+v, want %s at %s, %d escalations, %d reopens", i, s.req.Action, tk, s.status, s.tier, s.escalations, s.reopened)
		}
		if !tk.UpdatedAt.Equal(now.Add(time.Duration(i) * time.Minute)) {
			t.Fatalf("after step %d: updated at %v", i, tk.UpdatedAt)
		}
	}
}

// TestFirstAssignment: assigning a new, unassigned ticket starts it, and its
// timeline entry names who it went to (not the status change).
func TestFirstAssignment(t *testing.T) {
	tk := ticket.Ticket{Ref: "INC-2", Tier: ticket.L1, Status: ticket.New}
	ev, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActAssign, Assignee: "amy"}, "amy", now)
	if err != nil || tk.Status != ticket.InProgress || tk.Assignee != "amy" {
		t.Fatalf("assign: %v, %+v", err, tk)
	}
	if ev.From != "" || ev.To != "amy" {
		t.Errorf("assign event goes %q → %q, want \"\" → amy", ev.From, ev.To)
	}
}

// TestRefusalHints: a refusal on a resolved or closed ticket tells the
// caller to reopen it; one on a ticket in work does not, and says its
// state in words.
func TestRefusalHints(t *testing.T) {
	for _, c := range []struct {
		status, action string
		hint           bool
		state          string
	}{
		{ticket.Resolved, ticket.ActStart, true, "resolved"},
		{ticket.Closed, ticket.ActResolve, true, "closed"},
		{ticket.Resolved, ticket.ActEscalate, true, "resolved"},
		{ticket.Closed, ticket.ActAssign, true, "closed"},
		{ticket.InProgress, ticket.ActStart, false, "in progress"},
		{ticket.InProgress, ticket.ActReopen, false, "in progress"},
	} {
		tk := sample(c.status, ticket.L1)
		_, err := ticket.Apply(&tk, request(c.action, ticket.L2), "dave", now)
		if err == nil {
			t.Fatalf("%s a %s ticket was allowed", c.action, c.status)
		}
		if got := strings.Contains(err.Error(), "reopen it first"); got != c.hint {
			t.Errorf("%s a %s ticket: %q; hint to reopen %v, want %v", c.action, c.status, err, got, c.hint)
		}
		if !strings.Contains(err.Error(), "is "+c.state) {
			t.Errorf("%s a %s ticket: %q does not say it is %s", c.action, c.status, err, c.state)
		}
	}
}

// TestInvalidRequests: malformed requests are invalid in every state, take
// precedence over the state's refusal, and change nothing.
func TestInvalidRequests(t *testing.T) {
	long := strings.Repeat("x", ticket.MaxText+1)
	cases := map[string]ticket.Request{
		"unknown action":         {Action: "delete"},
		"empty action":           {},
		"note without text":      {Action: ticket.ActNote, Text: " \t\n"},
		"note too long":          {Action: ticket.ActNote, Text: long},
		"reason too long":        {Action: ticket.ActResolve, Text: long},
		"assign to nobody":       {Action: ticket.ActAssign, Assignee: "   "},
		"assign to a long name":  {Action: ticket.ActAssign, Assignee: strings.Repeat("n", ticket.MaxName+1)},
		"escalate nowhere":       {Action: ticket.ActEscalate},
		"escalate to l1":         {Action: ticket.ActEscalate, To: ticket.L1},
		"escalate to l4":         {Action: ticket.ActEscalate, To: "l4"},
		"escalate to the moon":   {Action: ticket.ActEscalate, To: "admin"},
		"escalate with a reason": {Action: ticket.ActEscalate, To: "l2", Text: long},
	}
	for name, req := range cases {
		for _, status := range states {
			tk := sample(status, ticket.L1)
			before := tk
			_, err := ticket.Apply(&tk, req, "dave", now)
			if !errors.Is(err, ticket.ErrInvalid) || errors.Is(err, ticket.ErrConflict) {
				t.Errorf("%s on a %s ticket: %v, want invalid", name, status, err)
			}
			if !reflect.DeepEqual(tk, before) {
				t.Errorf("%s on a %s ticket changed it: %+v", name, status, tk)
			}
		}
	}
}

// TestLimitsInclusive: the limits are the largest accepted sizes; text is
// measured after trimming.
func TestLimitsInclusive(t *testing.T) {
	tk := sample(ticket.InProgress, ticket.L2)
	if _, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActNote, Text: "  " + strings.Repeat("x", ticket.MaxText) + "  "}, "dave", now); err != nil {
		t.Errorf("a note of MaxText bytes: %v", err)
	}
	name := strings.Repeat("n", ticket.MaxName)
	if _, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActAssign, Assignee: name}, "dave", now); err != nil || tk.Assignee != name {
		t.Errorf("an assignee of MaxName bytes: %v", err)
	}
	if _, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActAssign, Assignee: "x"}, "dave", now); err != nil || tk.Assignee != "x" {
		t.Errorf("an assignee of one byte: %v", err)
	}
}

func TestValidRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"INC-4711": true,
		"a":        true,
		"Zz09-_.":  true,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_": true,
		strings.Repeat("r", 64): true,
		strings.Repeat("r", 65): false,
		"":                      false,
		"INC 4711":              false,
		"INC/4711":              false,
		"../etc":                false,
		"INC#1":                 false,
		"ä":                     false,
		"a`":                    false, // ` is just below a, { just above z
		"z{":                    false,
		"A@":                    false, // @ is just below A, [ just above Z
		"Z[":                    false,
		"0/":                    false, // / is just below 0, : just above 9
		"9:":                    false,
		"a,":                    false, // , is beside - and .
	} {
		if got := ticket.ValidRef(ref); got != ok {
			t.Errorf("ValidRef(%q) = %v, want %v", ref, got, ok)
		}
	}
}

func TestValidTier(t *testing.T) {
	for tier, ok := range map[string]bool{"l1": true, "l2": true, "l3": true, "": false, "l0": false, "l4": false, "L1": false, "admin": false} {
		if got := ticket.ValidTier(tier); got != ok {
			t.Errorf("ValidTier(%q) = %v, want %v", tier, got, ok)
		}
	}
}

// TestWhat: each timeline row says what was done to what: the assignee,
// the tier, the bundle or snapshot, the status.
func TestWhat(t *testing.T) {
	for _, c := range []struct {
		ev   ticket.Event
		want string
	}{
		{ticket.Event{Kind: "opened", Text: "slow", To: ticket.New}, "opened the ticket"},
		{ticket.Event{Kind: ticket.ActNote, Text: "x"}, "added a note"},
		{ticket.Event{Kind: ticket.ActAssign, To: "alice"}, "assigned it to alice"},
		{ticket.Event{Kind: ticket.ActAssign, From: "alice", To: "bob"}, "reassigned it from alice to bob"},
		{ticket.Event{Kind: ticket.ActEscalate, From: ticket.L1, To: ticket.L2}, "escalated it L1 → L2"},
		{ticket.Event{Kind: ticket.ActStart, From: ticket.New, To: ticket.InProgress}, "started work (new → in progress)"},
		{ticket.Event{Kind: ticket.ActResolve, From: ticket.InProgress, To: ticket.Resolved}, "resolved it (in progress → resolved)"},
		{ticket.Event{Kind: ticket.ActClose, From: ticket.Resolved, To: ticket.Closed}, "closed it (resolved → closed)"},
		{ticket.Event{Kind: ticket.ActReopen, From: ticket.Closed, To: ticket.InProgress}, "reopened it (closed → in progress)"},
		{ticket.Event{Kind: "bundle", Bundle: 4, Snapshot: 12}, "attached bundle 4 (snapshot 12)"},
		{ticket.Event{Kind: "handover", Bundle: 5, Snapshot: 13}, "attached handover 5 (snapshot 13)"},
		{ticket.Event{Kind: "bundle"}, "attached a bundle"},
		{ticket.Event{Kind: "import", Snapshot: 9}, "imported snapshot 9 from a file"},
		{ticket.Event{Kind: "import"}, "imported a snapshot"},
		{ticket.Event{Kind: "alert", To: "firing"}, "alert (firing)"},
	} {
		if got := c.ev.What(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.ev, got, c.want)
		}
	}
}

// TestAssignEventNamesAssignee: an assignment records the assignee, also
// when it moves a new ticket to in progress.
func TestAssignEventNamesAssignee(t *testing.T) {
	tk := ticket.Ticket{Ref: "T", Status: ticket.New, Tier: ticket.L2}
	ev, err := ticket.Apply(&tk, ticket.Request{Action: ticket.ActAssign, Assignee: "alice"}, "bob", time.Now())
	if err != nil || ev.What() != "assigned it to alice" || tk.Status != ticket.InProgress {
		t.Errorf("assign: %q, status %s, %v", ev.What(), tk.Status, err)
	}
}

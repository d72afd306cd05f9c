// Package ticket is the life-cycle of an L2 ticket: its states, the moves
// between them, and the errors for moves that make no sense.
package ticket

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// States of a ticket.
const (
	New        = "new"
	InProgress = "in_progress"
	Escalated  = "escalated"
	Resolved   = "resolved"
	Closed     = "closed"
)

// Tiers a ticket can sit at.
const (
	L1 = "l1"
	L2 = "l2"
	L3 = "l3"
)

// Actions on a ticket, as named by the API and the CLI.
const (
	ActNote     = "note"
	ActAssign   = "assign"
	ActStart    = "start"
	ActEscalate = "escalate"
	ActResolve  = "resolve"
	ActClose    = "close"
	ActReopen   = "reopen"
	ActLink     = "link"
)

// Ticket is an incident an engineer works on.
type Ticket struct {
	Ref       string    `json:"ref"`
	Title     string    `json:"title"`
	Agents    []string  `json:"agents"`
	Tier      string    `json:"tier"`
	Assignee  string    `json:"assignee,omitempty"`
	Status    string    `json:"status"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Escalations counts moves to a higher tier; Reopened counts reopens.
	Escalations int `json:"escalations"`
	Reopened    int `json:"reopened"`
	// Helpdesk names the connector of the customer's helpdesk the ticket
	// is linked to, and External is the ticket's key there; Helpdesk alone
	// (External empty) means the courier is to open it there, in Queue.
	Helpdesk string `json:"helpdesk,omitempty"`
	External string `json:"external,omitempty"`
	Queue    string `json:"queue,omitempty"`
}

// Event is one entry of a ticket's timeline.
type Event struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Kind  string    `json:"kind"` // opened, note, assign, start, escalate, resolve, close, reopen, bundle, snapshot
	Text  string    `json:"text,omitempty"`
	// From and To are the value the action changed: the assignee of an
	// assign, the tier of an escalate, else the status.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Bundle and Snapshot name what a bundle, handover or import attached.
	Bundle   int64 `json:"bundle,omitempty"`
	Snapshot int64 `json:"snapshot,omitempty"`
}

// What says what the event did and to what, for a timeline row that
// names its actor beside it: "assigned to alice", "escalated L2 → L3",
// "attached bundle 4 (snapshot 12)". Every client renders rows with it.
func (e Event) What() string {
	change := func(verb, from, to string) string {
		switch {
		case from == "" && to == "":
			return verb
		case from == "":
			return verb + " (" + human(to) + ")"
		}
		return verb + " (" + human(from) + " → " + human(to) + ")"
	}
	switch e.Kind {
	case "opened":
		return "opened the ticket"
	case ActNote:
		return "added a note"
	case ActAssign:
		if e.From == "" {
			return "assigned it to " + e.To
		}
		return "reassigned it from " + e.From + " to " + e.To
	case ActEscalate:
		return "escalated it " + strings.ToUpper(e.From) + " → " + strings.ToUpper(e.To)
	case ActStart:
		return change("started work", e.From, e.To)
	case ActResolve:
		return change("resolved it", e.From, e.To)
	case ActClose:
		return change("closed it", e.From, e.To)
	case ActReopen:
		return change("reopened it", e.From, e.To)
	case "bundle", "handover":
		if e.Bundle == 0 {
			return "attached a " + e.Kind // recorded before events named it
		}
		return fmt.Sprintf("attached %s %d (snapshot %d)", e.Kind, e.Bundle, e.Snapshot)
	case ActLink:
		switch {
		case e.To == "":
			return "unlinked it from " + e.From
		case strings.HasSuffix(e.To, ":"):
			return "asked for a ticket in " + strings.TrimSuffix(e.To, ":")
		}
		return "linked it to " + e.To
	case "import":
		if e.Snapshot == 0 {
			return "imported a snapshot"
		}
		return fmt.Sprintf("imported snapshot %d from a file", e.Snapshot)
	}
	return change(e.Kind, e.From, e.To)
}

// Request is an action asked of a ticket.
type Request struct {
	Action   string `json:"action"`
	Text     string `json:"text,omitempty"`     // note, or the reason for a move
	Assignee string `json:"assignee,omitempty"` // assign
	To       string `json:"to,omitempty"`       // escalate: l2 or l3
	// Helpdesk and External are a link's connector and key; a link with a
	// helpdesk and no key asks for a ticket to be opened there, in Queue.
	Helpdesk string `json:"helpdesk,omitempty"`
	External string `json:"external,omitempty"`
	Queue    string `json:"queue,omitempty"`
	// Open asks for a ticket to be opened in the helpdesk, which the API
	// names when only one is configured.
	Open bool `json:"open,omitempty"`
}

// ErrConflict is wrapped by moves that the ticket's state does not allow.
var ErrConflict = errors.New("not allowed in this state")

// ErrInvalid is wrapped by malformed requests.
var ErrInvalid = errors.New("invalid request")

// Limits on what people type.
const (
	MaxTitle = 200
	MaxText  = 8 << 10
	MaxName  = 64
)

// LinkName is the ticket's link as the timeline shows it: "rt:1234",
// "rt:" while the ticket is still to open there, "" when not linked.
func (t Ticket) LinkName() string {
	if t.Helpdesk == "" {
		return ""
	}
	return t.Helpdesk + ":" + t.External
}

// checkLink checks a link request: a connector name (letters, digits,
// '-', '_'), and a key of printable ASCII without spaces, or neither to
// unlink.
func checkLink(r Request) error {
	if r.Helpdesk == "" {
		if r.External != "" || r.Queue != "" {
			return fmt.Errorf("%w: a link names its helpdesk (the connector's name)", ErrInvalid)
		}
		return nil
	}
	if len(r.Helpdesk) > 32 || strings.Trim(r.Helpdesk, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("%w: helpdesk %q: want 1 to 32 letters, digits, '-' or '_'", ErrInvalid, r.Helpdesk)
	}
	for _, f := range []struct{ name, v string }{{"external key", r.External}, {"queue", r.Queue}} {
		if len(f.v) > 128 {
			return fmt.Errorf("%w: the %s is %d bytes, limit 128", ErrInvalid, f.name, len(f.v))
		}
		for _, c := range f.v {
			if c <= ' ' && f.name == "external key" || c < ' ' || c > '~' {
				return fmt.Errorf("%w: the %s %q has a character other than printable ASCII", ErrInvalid, f.name, f.v)
			}
		}
	}
	return nil
}

// ValidRef reports whether ref is a usable ticket reference: letters,
// digits, '-', '_' and '.', at most 64, as helpdesk keys such as INC-4711.
func ValidRef(ref string) bool {
	if ref == "" || len(ref) > 64 {
		return false
	}
	for _, c := range ref {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Apply performs r on t by actor at now, and returns the event for the
// timeline. It changes t only when it succeeds.
func Apply(t *Ticket, r Request, actor string, now time.Time) (Event, error) {
	ev := Event{At: now, Actor: actor, Kind: r.Action, Text: strings.TrimSpace(r.Text)}
	if len(ev.Text) > MaxText {
		return ev, fmt.Errorf("%w: text is %d bytes, limit %d", ErrInvalid, len(ev.Text), MaxText)
	}
	next := *t
	switch r.Action {
	case ActNote:
		if ev.Text == "" {
			return ev, fmt.Errorf("%w: a note needs text", ErrInvalid)
		}
	case ActAssign:
		a := strings.TrimSpace(r.Assignee)
		if a == "" || len(a) > MaxName {
			return ev, fmt.Errorf("%w: assign needs an assignee of 1 to %d characters", ErrInvalid, MaxName)
		}
		if t.Status == Closed {
			return ev, conflict(t, "assign")
		}
		ev.From, ev.To = t.Assignee, a
		next.Assignee = a
		if t.Status == New {
			next.Status = InProgress
		}
	case ActStart:
		if t.Status != New && t.Status != Escalated {
			return ev, conflict(t, "start work on")
		}
		next.Status = InProgress
	case ActEscalate:
		to := strings.ToLower(r.To)
		if to != L2 && to != L3 {
			return ev, fmt.Errorf("%w: escalate to l2 or l3, not %q", ErrInvalid, r.To)
		}
		if t.Status == Resolved || t.Status == Closed {
			return ev, conflict(t, "escalate")
		}
		if tierRank(to) <= tierRank(t.Tier) {
			return ev, fmt.Errorf("%w: ticket %s is at %s already; escalation goes up a tier", ErrConflict, t.Ref, strings.ToUpper(t.Tier))
		}
		ev.From, ev.To = t.Tier, to
		next.Tier, next.Status = to, Escalated
		next.Escalations++
	case ActResolve:
		if t.Status == Resolved || t.Status == Closed {
			return ev, conflict(t, "resolve")
		}
		next.Status = Resolved
	case ActClose:
		if t.Status == Closed {
			return ev, conflict(t, "close")
		}
		next.Status = Closed
	case ActReopen:
		if t.Status != Resolved && t.Status != Closed {
			return ev, fmt.Errorf("%w: ticket %s is %s, not resolved or closed; nothing to reopen", ErrConflict, t.Ref, human(t.Status))
		}
		next.Status = InProgress
		next.Reopened++
	case ActLink:
		if err := checkLink(r); err != nil {
			return ev, err
		}
		ev.From, ev.To = t.LinkName(), Ticket{Helpdesk: r.Helpdesk, External: r.External}.LinkName()
		next.Helpdesk, next.External, next.Queue = r.Helpdesk, r.External, r.Queue
	default:
		return ev, fmt.Errorf("%w: unknown action %q (note, assign, start, escalate, resolve, close, reopen, link)", ErrInvalid, r.Action)
	}
	// A move that records nothing else records the status change; the
	// first assignment, from nobody, keeps its assignee.
	if next.Status != t.Status && ev.From == "" && ev.To == "" {
		ev.From, ev.To = t.Status, next.Status
	}
	next.UpdatedAt = now
	*t = next
	return ev, nil
}

func conflict(t *Ticket, verb string) error {
	hint := ""
	if t.Status == Closed || t.Status == Resolved {
		hint = "; reopen it first"
	}
	return fmt.Errorf("%w: cannot %s ticket %s: it is %s%s", ErrConflict, verb, t.Ref, human(t.Status), hint)
}

func human(status string) string { return strings.ReplaceAll(status, "_", " ") }

func tierRank(t string) int {
	switch t {
	case L1:
		return 1
	case L2:
		return 2
	case L3:
		return 3
	}
	return 0
}

// ValidTier reports whether t names a tier.
func ValidTier(t string) bool { return tierRank(t) > 0 }

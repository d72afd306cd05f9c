// Package access decides, in one place, what each role may do and see: the
// least role of every operation, the tier ceilings on tickets, and how much
// of a machine's data a caller is shown. The API, the web UI, the CLI
// (through the API) and the collector's own actors (proactive tickets) all
// ask it, so a door cannot be more generous than another.
package access

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// Op is one thing a caller may do, named the same through every door.
type Op struct {
	// Name is what the audit log records: "snapshot.take".
	Name string
	// Role is the least role that may call it; some ops narrow it further
	// by ticket (see Ticket, Open, Attach).
	Role string
	// Audit puts every call on the record, refused ones included. Changes
	// and reads of raw machine data are audited; listings are not.
	Audit bool
	// Evidence marks reads that show raw machine data to callers who see
	// evidence: those calls are audited too (see Audited).
	Evidence bool
}

// The operations. Reads of machine data at the evidence view, and every
// change, go on the audit record.
var (
	ListAgents     = Op{Name: "agents.list", Role: store.RoleL1}
	ReadAgent      = Op{Name: "agent.read", Role: store.RoleL1, Evidence: true}
	TakeSnapshot   = Op{Name: "snapshot.take", Role: store.RoleL2, Audit: true}
	ListSnapshots  = Op{Name: "snapshots.list", Role: store.RoleL2, Audit: true}
	ReadSnapshot   = Op{Name: "snapshot.read", Role: store.RoleL2, Audit: true}
	ReadDiff       = Op{Name: "diff.read", Role: store.RoleL2, Audit: true}
	ReadAudit      = Op{Name: "audit.read", Role: store.RoleAdmin, Audit: true}
	BuildBundle    = Op{Name: "bundle.build", Role: store.RoleL1, Audit: true}
	DownloadBundle = Op{Name: "bundle.download", Role: store.RoleL2, Audit: true}
	ReadBundleKey  = Op{Name: "bundle-key.read", Role: store.RoleL1}
	Import         = Op{Name: "snapshot.import", Role: store.RoleL2, Audit: true}
	OpenTicket     = Op{Name: "ticket.open", Role: store.RoleL1, Audit: true}
	ListTickets    = Op{Name: "tickets.list", Role: store.RoleL1}
	ReadTicket     = Op{Name: "ticket.read", Role: store.RoleL1, Evidence: true}
	ActOnTicket    = Op{Name: "ticket.act", Role: store.RoleL1, Audit: true}
	ListAlerts     = Op{Name: "alerts.list", Role: store.RoleL1}
	ListSilences   = Op{Name: "silences.list", Role: store.RoleL2}
	AddSilence     = Op{Name: "silence.add", Role: store.RoleL2, Audit: true}
	ExpireSilence  = Op{Name: "silence.expire", Role: store.RoleL2, Audit: true}
	WhoAmI         = Op{Name: "whoami", Role: store.RoleL1}
)

// Denied is the error of a refused operation: the caller's role or the
// ticket's tier does not allow it.
type Denied struct{ Reason string }

func (e *Denied) Error() string { return e.Reason }

func deny(format string, args ...any) error {
	return &Denied{Reason: fmt.Sprintf(format, args...)}
}

// IsDenied reports whether err is, or wraps, a refusal.
func IsDenied(err error) bool {
	var d *Denied
	return errors.As(err, &d)
}

// Allow returns nil when k may call op at all, else a *Denied.
func Allow(k store.APIKey, op Op) error {
	if store.RoleRank(k.Role) < store.RoleRank(op.Role) {
		return deny("API key %q has role %s; %s needs %s or above", k.Name, roleName(k.Role), op.Name, op.Role)
	}
	return nil
}

// Can reports whether k may call op at all.
func Can(k store.APIKey, op Op) bool { return Allow(k, op) == nil }

func roleName(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// View is how much of a machine's data a caller is shown.
type View int

const (
	// Summary is what the person at the machine could see for themselves:
	// findings' titles, severity and plain-language steps, the machine's
	// facts, and the state of its tickets. No raw snapshot data, evidence
	// values or bundles' contents.
	Summary View = iota + 1
	// Evidence is everything: raw snapshots, findings with their evidence,
	// diffs and bundles.
	Evidence
)

// ViewOf returns what k is shown: evidence from L2 up, the summary below.
func ViewOf(k store.APIKey) View {
	if store.RoleRank(k.Role) >= store.RoleRank(store.RoleL2) {
		return Evidence
	}
	return Summary
}

// Audited reports whether a call of op by k goes on the audit record.
func Audited(k store.APIKey, op Op) bool {
	return op.Audit || op.Evidence && ViewOf(k) == Evidence
}

// tierRank ranks tiers against roles: a role works tickets up to its own
// tier (l1 ↔ l1, l2 ↔ l2, l3 and admin ↔ l3).
func tierRank(tier string) int { return store.RoleRank(strings.ToLower(tier)) }

// ceiling is the highest tier k works at.
func ceiling(k store.APIKey) int { return min(store.RoleRank(k.Role), tierRank(ticket.L3)) }

// Open returns nil when k may open a ticket at tier: at its own tier or
// below. A ticket goes higher by escalation, which the KPIs count.
func Open(k store.APIKey, tier string) error {
	if err := Allow(k, OpenTicket); err != nil {
		return err
	}
	if tierRank(tier) > ceiling(k) {
		return deny("API key %q has role %s and may open tickets at tier %s at most; open it at %s and escalate",
			k.Name, k.Role, strings.ToUpper(tierName(ceiling(k))), strings.ToUpper(tierName(ceiling(k))))
	}
	return nil
}

func tierName(rank int) string {
	return map[int]string{1: ticket.L1, 2: ticket.L2, 3: ticket.L3}[rank]
}

// Ticket returns nil when k may perform req on t. Anyone may add a note.
// Escalation goes one tier above the caller's at most (L1 hands to L2).
// Working a ticket — assigning, starting, resolving, closing, reopening —
// is for roles at or above its tier, and an L1 assigns only to itself.
func Ticket(k store.APIKey, t ticket.Ticket, req ticket.Request) error {
	if err := Allow(k, ActOnTicket); err != nil {
		return err
	}
	switch req.Action {
	case ticket.ActNote:
		return nil
	case ticket.ActEscalate:
		if to := tierRank(req.To); to > ceiling(k)+1 {
			return deny("API key %q has role %s; it may escalate to %s at most", k.Name, k.Role, strings.ToUpper(tierName(ceiling(k)+1)))
		}
		return nil
	}
	if tierRank(t.Tier) > ceiling(k) {
		return deny("ticket %s is at %s; API key %q has role %s and may %s tickets at %s at most",
			t.Ref, strings.ToUpper(t.Tier), k.Name, k.Role, req.Action, strings.ToUpper(tierName(ceiling(k))))
	}
	if req.Action == ticket.ActAssign && !AssignsOthers(k) && strings.TrimSpace(req.Assignee) != k.Name {
		return deny("API key %q has role %s and may assign tickets to itself only", k.Name, k.Role)
	}
	return nil
}

// AssignsOthers reports whether k may assign tickets to others; below L2
// a role assigns to itself only.
func AssignsOthers(k store.APIKey) bool { return ViewOf(k) == Evidence }

// Actions lists the actions k may take on t now, in the order a page
// shows them; the ticket's state may still refuse one (ticket.Apply).
func Actions(k store.APIKey, t ticket.Ticket) []string {
	var out []string
	for _, a := range []string{ticket.ActNote, ticket.ActAssign, ticket.ActStart, ticket.ActResolve, ticket.ActClose, ticket.ActReopen, ticket.ActLink} {
		if Ticket(k, t, ticket.Request{Action: a, Assignee: k.Name}) == nil {
			out = append(out, a)
		}
	}
	return out
}

// EscalateTo lists the tiers k may escalate t to.
func EscalateTo(k store.APIKey, t ticket.Ticket) []string {
	var out []string
	for _, to := range []string{ticket.L2, ticket.L3} {
		if tierRank(to) > tierRank(t.Tier) && Ticket(k, t, ticket.Request{Action: ticket.ActEscalate, To: to}) == nil {
			out = append(out, to)
		}
	}
	return out
}

// Attach returns nil when k may take a fresh snapshot of agentID and
// attach it as a bundle to t. From L2 up, any ticket and machine; an L1
// only to a ticket it opened or that is assigned to it, and only of a
// machine the ticket names.
func Attach(k store.APIKey, t ticket.Ticket, agentID string) error {
	if err := Allow(k, BuildBundle); err != nil {
		return err
	}
	if ViewOf(k) == Evidence {
		return nil
	}
	if t.CreatedBy != k.Name && t.Assignee != k.Name {
		return deny("API key %q has role %s and may attach evidence only to tickets it opened or that are assigned to it; %s is %s's", k.Name, k.Role, t.Ref, owner(t))
	}
	for _, id := range t.Agents {
		if id == agentID {
			return nil
		}
	}
	return deny("API key %q has role %s and may attach evidence only of the ticket's own machines; %s does not name agent %s", k.Name, k.Role, t.Ref, agentID)
}

func owner(t ticket.Ticket) string {
	if t.Assignee != "" {
		return t.Assignee
	}
	return t.CreatedBy
}

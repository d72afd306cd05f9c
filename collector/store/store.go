// Package store defines what the collector keeps and the interface its
// back ends implement: the embedded SQLite store (package sqlite) now, a
// shared PostgreSQL store for several replicas later.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

// Errors the back ends return; they may wrap more detail.
var (
	ErrNotFound     = errors.New("not found")
	ErrTokenInvalid = errors.New("enrollment token is unknown, expired or used up")
	ErrExists       = errors.New("already exists")
)

// Agent is an enrolled machine.
type Agent struct {
	ID           string         `json:"id"`
	Facts        protocol.Facts `json:"facts"`
	AgentVersion string         `json:"agent_version,omitempty"`
	Probes       []string       `json:"probes,omitempty"`
	EnrolledAt   time.Time      `json:"enrolled_at"`
	LastSeen     time.Time      `json:"last_seen,omitzero"`
	// Scope is the enrollment token's scope (a site, a team, a fleet).
	Scope string `json:"scope,omitempty"`
	// RevokedAt is set once the agent's identity is revoked: it is refused
	// from then on.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// CertSerial is the serial of the certificate last issued to the agent
	// (hex), recorded with the enrollment and each renewal.
	CertSerial string `json:"cert_serial,omitempty"`
	// Pending is set for an agent enrolled while the collector requires
	// approval, until an admin approves it; it may not connect until then.
	Pending bool `json:"pending,omitempty"`
}

// Snapshot is a stored snapshot. Listings leave Probes empty.
type Snapshot struct {
	ID int64 `json:"id"`
	protocol.Document
	ReceivedAt time.Time `json:"received_at"`
	// Imported is set for a snapshot filed from a document (`sonde
	// import`), not delivered by the agent: its boot epoch is
	// protocol.ImportedEpoch. Whatever shows a snapshot says so.
	Imported bool `json:"imported"`
	// AgentCapturedAt is the capture time the agent gave when it was more
	// than protocol.MaxClockAhead ahead of the collector's clock: CapturedAt
	// then holds the collector's estimate (the agent's time less its
	// measured clock skew, at the latest the time received). Zero when the
	// agent's capture time was kept.
	AgentCapturedAt time.Time `json:"agent_captured_at,omitzero"`
}

// FromWire converts a validated wire snapshot.
func FromWire(m *protocol.Snapshot, received time.Time) *Snapshot {
	return &Snapshot{Document: m.Document(), ReceivedAt: received.UTC(), Imported: m.BootEpoch == protocol.ImportedEpoch}
}

// ImportedAgentPrefix starts the ID of an agent known only from imported
// documents; enrolled agents' IDs are hex.
const ImportedAgentPrefix = "imported-"

// Delivers reports whether the agent with the given ID delivers snapshots
// itself (it enrolled), so that implicit choices of its snapshots ("the
// latest", "a baseline") leave imports out (SnapshotFilter.Delivered). An
// agent known only from imports has nothing else.
func Delivers(agentID string) bool {
	return !strings.HasPrefix(agentID, ImportedAgentPrefix)
}

// Token is an enrollment token, kept only as a hash.
type Token struct {
	ID        string    `json:"id"` // the first 12 hex digits of the hash, to name it
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Uses      int       `json:"uses_left"`
	CreatedBy string    `json:"created_by"`
	Scope     string    `json:"scope,omitempty"`
}

// Roles of API keys, from least to most privileged.
const (
	RoleL1    = "l1"
	RoleL2    = "l2"
	RoleL3    = "l3"
	RoleAdmin = "admin"
)

// RoleRank orders roles; unknown roles rank 0.
func RoleRank(role string) int {
	switch role {
	case RoleL1:
		return 1
	case RoleL2:
		return 2
	case RoleL3:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// APIKey is an L2 API key, kept only as a hash.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Bundle is a diagnostic bundle attached to a ticket. The file lives in
// the data dir; Pseudonyms (pseudonym → original) never leave the collector.
type Bundle struct {
	ID         int64             `json:"id"`
	Kind       string            `json:"kind"` // bundle or handover
	Ticket     string            `json:"ticket"`
	AgentID    string            `json:"agent_id"`
	SnapshotID int64             `json:"snapshot_id"`
	Fresh      bool              `json:"fresh"`
	Note       string            `json:"note,omitempty"`
	SHA256     string            `json:"sha256"`
	Size       int64             `json:"size"`
	Findings   []string          `json:"findings"`
	CreatedAt  time.Time         `json:"created_at"`
	CreatedBy  string            `json:"created_by"`
	Path       string            `json:"-"`
	Pseudonyms map[string]string `json:"-"`
	// Evidence is the bundle's findings.json as built: the findings the
	// ticket pins, with their figures and knowledge-base entries, which
	// stay as they were when the machine changes. Empty for bundles
	// recorded before the collector kept it.
	Evidence json.RawMessage `json:"-"`
}

// AuditEntry records who did what to what. Hash chains each entry to the
// one before, so changing or removing a row breaks every hash after it.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // API key name, or local:USER for commands on the collector
	Action string    `json:"action"` // e.g. "POST /api/v1/agents/{agent}/snapshots"
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Hash   string    `json:"hash"`
}

// TicketFilter narrows a ticket listing; empty fields match all.
type TicketFilter struct {
	Status   string
	Tier     string
	Agent    string
	Assignee string
	Limit    int // 0 means 200
}

// SnapshotFilter narrows a snapshot listing.
type SnapshotFilter struct {
	Kind   string    // "full", "health" or "" for both
	Before time.Time // only snapshots captured at or before; zero for all
	Since  time.Time // only snapshots captured at or after; zero for all
	Faults bool      // only snapshots the agent took at a fault (with a trigger)
	// Delivered keeps only snapshots the agent delivered: no imports.
	Delivered bool
	// Oldest lists the oldest first (the default is newest first).
	Oldest bool
	Limit  int // 0 means 100
}

// Store is what the collector keeps. Implementations are safe for
// concurrent use.
type Store interface {
	CreateToken(ctx context.Context, t Token) error
	// Tokens lists the tokens that can still enroll at now.
	Tokens(ctx context.Context, now time.Time) ([]Token, error)
	// RevokeToken makes the token with the given ID unusable.
	RevokeToken(ctx context.Context, id string) error
	// ApproveAgent lets a pending agent connect.
	ApproveAgent(ctx context.Context, id string) error
	// SetAgentCert records the serial of a renewed certificate.
	SetAgentCert(ctx context.Context, id, serial string) error
	// RevokeAgent refuses an agent from now on.
	RevokeAgent(ctx context.Context, id string, at time.Time) error
	// Revoked lists the IDs of revoked agents.
	Revoked(ctx context.Context) ([]string, error)

	// Audit appends an entry to the hash-chained audit log.
	Audit(ctx context.Context, e AuditEntry) error
	// AuditLog returns the newest entries, newest first, and checks the
	// whole chain: broken is the ID of the first entry whose hash does not
	// follow from its content and its predecessor (0 when intact).
	AuditLog(ctx context.Context, limit int) (entries []AuditEntry, broken int64, err error)
	// AuditHead returns the ID and hash of the newest audit entry; 0 and
	// nil when the log is empty. A signed checkpoint of it, kept outside
	// the database, later shows whether the newest rows were deleted.
	AuditHead(ctx context.Context) (id int64, hash []byte, err error)
	// AuditHash returns the stored hash of the audit entry with the given
	// ID, or ErrNotFound when there is no such entry. It does not check
	// the chain: AuditLog does.
	AuditHash(ctx context.Context, id int64) ([]byte, error)
	// Enroll consumes one use of the token with the given hash and records
	// the agent, in one transaction; ErrTokenInvalid when the token cannot
	// be used at now.
	Enroll(ctx context.Context, tokenHash []byte, now time.Time, a Agent) error

	CreateAPIKey(ctx context.Context, k APIKey, hash []byte) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)

	Agents(ctx context.Context) ([]Agent, error)
	Agent(ctx context.Context, id string) (Agent, error)
	// SeenAgent records a hello: the agent's current facts, version, probes.
	SeenAgent(ctx context.Context, a Agent) error
	// AddAgent records an agent unless one with its ID exists, which is
	// left as it is. Imports do not use it: ImportSnapshot records their
	// machine in the snapshot's commit.
	AddAgent(ctx context.Context, a Agent) error

	// PutSnapshot stores s durably unless a snapshot with the same
	// (AgentID, BootEpoch, Seq) is stored already; either way it returns
	// the stored ID, and whether it was a duplicate. It returns only after
	// the commit, so the caller may ack. The agent's last-seen time moves
	// to s.ReceivedAt, unless s was imported from a file
	// (protocol.ImportedEpoch): Agent and Agents show it once PutSnapshot
	// returns, and it may reach durable storage a few seconds later (a
	// crash may lose those seconds of it, never the snapshot).
	PutSnapshot(ctx context.Context, s *Snapshot) (id int64, duplicate bool, err error)
	// ImportSnapshot stores s, imported from a document (its boot epoch is
	// protocol.ImportedEpoch), like PutSnapshot, and in the same
	// transaction records agent unless an agent with its ID exists: a
	// refused import leaves no agent behind. It returns only after the
	// commit.
	ImportSnapshot(ctx context.Context, agent Agent, s *Snapshot) (id int64, duplicate bool, err error)
	Snapshots(ctx context.Context, agentID string, f SnapshotFilter) ([]Snapshot, error)
	Snapshot(ctx context.Context, id int64) (*Snapshot, error)

	// CreateTicket stores a new ticket with its first event; a ticket
	// without a Ref gets the next SND-<n>. It returns the stored ticket.
	CreateTicket(ctx context.Context, t ticket.Ticket, ev ticket.Event) (ticket.Ticket, error)
	Ticket(ctx context.Context, ref string) (ticket.Ticket, error)
	Tickets(ctx context.Context, f TicketFilter) ([]ticket.Ticket, error)
	TicketEvents(ctx context.Context, ref string) ([]ticket.Event, error)
	// UpdateTicket runs fn on the ticket inside one transaction and stores
	// the result and the event fn returns; an error from fn changes nothing.
	UpdateTicket(ctx context.Context, ref string, fn func(*ticket.Ticket) (ticket.Event, error)) (ticket.Ticket, error)

	// SimilarTickets lists resolved or closed tickets, other than exclude,
	// whose bundles had any of the given finding IDs, most recent first.
	SimilarTickets(ctx context.Context, findingIDs []string, exclude string, limit int) ([]ticket.Ticket, error)
	// AddBundle records a bundle and its event on the ticket, in one
	// transaction.
	AddBundle(ctx context.Context, b Bundle, ev ticket.Event) (Bundle, error)
	Bundle(ctx context.Context, id int64) (Bundle, error)
	Bundles(ctx context.Context, ticketRef string) ([]Bundle, error)

	// PlanDeliveries adds to the helpdesk outbox every step that the
	// tickets' links and bundles call for and that it lacks: an open for a
	// ticket asked to open in a helpdesk, a comment and an attach for each
	// bundle of a linked ticket. The outbox is derived from what is stored,
	// so a crash between a bundle's commit and its delivery loses nothing.
	PlanDeliveries(ctx context.Context, now time.Time) error
	// DueDeliveries lists a helpdesk's pending steps due at now, oldest
	// first, leaving out those behind an earlier pending step of the same
	// ticket.
	DueDeliveries(ctx context.Context, helpdesk string, now time.Time, limit int) ([]Delivery, error)
	// AttemptDelivery counts an attempt of step id before it is made, and
	// sets when the next is due if this one does not finish.
	AttemptDelivery(ctx context.Context, id int64, next time.Time) error
	// FinishDelivery marks step id sent at at.
	FinishDelivery(ctx context.Context, id int64, at time.Time) error
	// FailDelivery records why step id's attempt failed; next overrides
	// when the next attempt is due, unless it is zero.
	FailDelivery(ctx context.Context, id int64, why string, next time.Time) error
	// Deliveries lists a ticket's steps, oldest first.
	Deliveries(ctx context.Context, ticketRef string) ([]Delivery, error)
	// DeliveryCounts counts the outbox's steps by helpdesk and state.
	DeliveryCounts(ctx context.Context) ([]DeliveryCount, error)
	// LinkedTickets lists the tickets linked to a key in helpdesk that are
	// not closed, to read their state back.
	LinkedTickets(ctx context.Context, helpdesk string) ([]ticket.Ticket, error)
	// TicketByExternal finds the ticket linked to key, in helpdesk or, when
	// helpdesk is "", in any (ErrNotFound, or ErrExists when several are).
	TicketByExternal(ctx context.Context, helpdesk, key string) (ticket.Ticket, error)

	// AlertState returns the alert engine's state as last saved.
	AlertState(ctx context.Context) ([]alert.Alert, error)
	// SaveAlertState replaces the saved alert state with alerts.
	SaveAlertState(ctx context.Context, alerts []alert.Alert) error
	// PutSilence stores a silence, replacing one with the same ID.
	PutSilence(ctx context.Context, s alert.Silence) error
	// Silences lists the silences that have not ended at now.
	Silences(ctx context.Context, now time.Time) ([]alert.Silence, error)
	// ExpireSilence ends a silence at at; ErrNotFound when there is none
	// in force.
	ExpireSilence(ctx context.Context, id string, at time.Time) error

	// OpenTickets counts tickets neither resolved nor closed, by tier and
	// status.
	OpenTickets(ctx context.Context) ([]TicketCount, error)
	// ResolvedTickets lists tickets whose first resolve event is at or
	// after since.
	ResolvedTickets(ctx context.Context, since time.Time) ([]ResolvedTicket, error)
	// RepeatIncidents counts (agent, finding) pairs found by bundles created
	// at or after since on more than one ticket.
	RepeatIncidents(ctx context.Context, since time.Time) (int, error)
	// SizeBytes is the space the store takes on disk.
	SizeBytes(ctx context.Context) (int64, error)

	Ping(ctx context.Context) error
	Close() error
}

// Delivery is one step of the helpdesk outbox: open a ticket there, or
// post a bundle's comment or attachment to it.
type Delivery struct {
	ID        int64     `json:"id"`
	Ticket    string    `json:"ticket"`
	Helpdesk  string    `json:"helpdesk"`
	External  string    `json:"external,omitempty"` // "" for an open
	Step      string    `json:"step"`               // open, comment or attach
	Bundle    int64     `json:"bundle,omitempty"`
	Marker    string    `json:"marker"`
	State     string    `json:"state"` // pending or sent
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
}

// Delivery steps and states.
const (
	StepOpen       = "open"
	StepComment    = "comment"
	StepAttach     = "attach"
	DeliveryWait   = "pending"
	DeliverySent   = "sent"
	DeliveryFailed = "failing" // pending, and its last attempt failed
)

// DeliveryCount is the number of outbox steps of one helpdesk in one
// state (pending, failing or sent).
type DeliveryCount struct {
	Helpdesk string
	State    string
	Count    int
}

// TicketCount is the number of tickets at one tier and status.
type TicketCount struct {
	Tier   string
	Status string
	Count  int
}

// ResolvedTicket is a ticket resolved at least once: when it was opened,
// when it was first resolved, and whether it was escalated or reopened.
type ResolvedTicket struct {
	Ref         string
	OpenedAt    time.Time
	ResolvedAt  time.Time
	Escalations int
	Reopened    int
}

package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

// TicketOpen is the body of POST /api/v1/tickets.
type TicketOpen struct {
	Ref    string   `json:"ref,omitempty"` // the helpdesk's key; empty for SND-<n>
	Title  string   `json:"title"`
	Agents []string `json:"agents,omitempty"` // IDs or unique hostnames
	Tier   string   `json:"tier,omitempty"`   // default: l1 for an l1 key, else l2
}

// TicketView is a ticket with its timeline and bundles; the machines it
// concerns (configuration items, kept current from each agent's latest
// hello); its evidence, the findings of the snapshots in its bundles and
// imported for it, which stay as they were; the machines' findings now,
// apart; and resolved tickets that shared its leading findings.
type TicketView struct {
	ticket.Ticket
	// ExternalURL is the ticket's page in its helpdesk, and Deliveries
	// what the courier sent there or has still to send.
	ExternalURL string           `json:"external_url,omitempty"`
	Deliveries  []store.Delivery `json:"deliveries"`
	Events      []ticket.Event   `json:"events"`
	Bundles     []BundleView     `json:"bundles"`
	Assets      []Asset          `json:"assets"`
	Findings    []AgentFinding   `json:"findings"`
	// Now is what the machines' latest snapshots show, marked "new" where
	// the evidence lacks it.
	Now     []AgentFinding  `json:"now"`
	Similar []SimilarTicket `json:"similar"`
	// Allowed is what the caller may do with the ticket now, so that
	// clients offer those moves and no others.
	Allowed Allowed `json:"allowed"`
}

// Allowed is what a caller may do with a ticket (see package access); the
// ticket's state may still refuse a move.
type Allowed struct {
	Actions    []string `json:"actions"`
	EscalateTo []string `json:"escalate_to"`
	// Attach lists the ticket's machines the caller may attach a fresh
	// snapshot of.
	Attach []string `json:"attach"`
	// Download is whether the caller may download the ticket's bundles.
	Download bool `json:"download"`
}

func allowed(k store.APIKey, t ticket.Ticket) Allowed {
	al := Allowed{Actions: access.Actions(k, t), EscalateTo: access.EscalateTo(k, t), Attach: []string{},
		Download: access.Can(k, access.DownloadBundle)}
	for _, id := range t.Agents {
		if t.Status != ticket.Closed && access.Attach(k, t, id) == nil {
			al.Attach = append(al.Attach, id)
		}
	}
	return al
}

// Asset is a machine on a ticket, with what its latest snapshot says.
type Asset struct {
	AgentID  string         `json:"agent_id"`
	Facts    protocol.Facts `json:"facts"`
	LastSeen time.Time      `json:"last_seen,omitzero"`
	Machine  Machine        `json:"machine"`
}

func (a *API) ticketRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tickets", a.auth(access.OpenTicket, a.openTicket))
	mux.Handle("GET /api/v1/tickets", a.auth(access.ListTickets, a.listTickets))
	mux.Handle("GET /api/v1/tickets/{ref}", a.auth(access.ReadTicket, a.getTicket))
	mux.Handle("POST /api/v1/tickets/{ref}/actions", a.auth(access.ActOnTicket, a.ticketAction))
}

// decode reads a bounded JSON body that must not carry unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "bad request body: %v", err)
	}
	return nil
}

func (a *API) openTicket(w http.ResponseWriter, r *http.Request) {
	var req TicketOpen
	if err := decode(w, r, &req); err != nil {
		a.fail(w, err)
		return
	}
	t, err := a.OpenTicket(r.Context(), req)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.writeTicket(w, r, http.StatusCreated, t)
}

// OpenTicket opens a ticket for the caller in ctx (see WithCaller), at a
// tier no higher than the caller's own (see access.Open).
func (a *API) OpenTicket(ctx context.Context, req TicketOpen) (t ticket.Ticket, err error) {
	defer func() { a.audit(ctx, access.OpenTicket, "ticket="+cmp.Or(t.Ref, req.Ref), &err) }()
	if err := allow(ctx, access.OpenTicket); err != nil {
		return t, err
	}
	req.Title = strings.TrimSpace(req.Title)
	if req.Title == "" || len(req.Title) > ticket.MaxTitle {
		return t, errorf(http.StatusBadRequest, "a ticket needs a title of 1 to %d characters", ticket.MaxTitle)
	}
	if req.Ref != "" && !ticket.ValidRef(req.Ref) {
		return t, errorf(http.StatusBadRequest, "ticket reference %q: use letters, digits, '-', '_' and '.', at most 64", req.Ref)
	}
	k, _ := KeyFrom(ctx)
	if req.Tier == "" {
		req.Tier = ticket.L2
		if k.Role == store.RoleL1 {
			req.Tier = ticket.L1
		}
	}
	req.Tier = strings.ToLower(req.Tier)
	if !ticket.ValidTier(req.Tier) {
		return t, errorf(http.StatusBadRequest, "tier must be l1, l2 or l3, not %q", req.Tier)
	}
	if err := access.Open(k, req.Tier); err != nil {
		return t, err
	}
	nt := ticket.Ticket{Ref: req.Ref, Title: req.Title, Tier: req.Tier, Status: ticket.New, CreatedBy: k.Name, Agents: []string{}}
	for _, name := range req.Agents {
		ag, err := a.FindAgent(ctx, name)
		if err != nil {
			return t, err
		}
		nt.Agents = append(nt.Agents, ag.ID)
	}
	now := time.Now().UTC()
	nt.CreatedAt, nt.UpdatedAt = now, now
	t, err = a.Store.CreateTicket(ctx, nt, ticket.Event{At: now, Actor: k.Name, Kind: "opened", Text: req.Title, To: ticket.New})
	if errors.Is(err, store.ErrExists) {
		return t, errorf(http.StatusConflict, "ticket %s exists already", req.Ref)
	}
	return t, err
}

// writeTicket answers with the ticket an operation just changed: the
// operation's audit entry covers it.
func (a *API) writeTicket(w http.ResponseWriter, r *http.Request, status int, t ticket.Ticket) {
	v, err := a.ticketDetail(r.Context(), t)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, status, v)
}

// TicketDetail returns a ticket with its timeline, bundles, machines and
// their findings, at the caller's view: below L2, findings without their
// evidence and bundles by their summary (see View).
func (a *API) TicketDetail(ctx context.Context, t ticket.Ticket) (v TicketView, err error) {
	defer a.audit(ctx, access.ReadTicket, "ticket="+t.Ref, &err)
	if err := allow(ctx, access.ReadTicket); err != nil {
		return v, err
	}
	return a.ticketDetail(ctx, t)
}

func (a *API) ticketDetail(ctx context.Context, t ticket.Ticket) (v TicketView, err error) {
	k, _ := KeyFrom(ctx)
	v = TicketView{Ticket: t, Bundles: []BundleView{}, Assets: []Asset{}, Now: []AgentFinding{}, Allowed: allowed(k, t), ExternalURL: a.externalURL(t)}
	if v.Deliveries, err = a.Store.Deliveries(ctx, t.Ref); err != nil {
		return v, err
	}
	if v.Events, err = a.Store.TicketEvents(ctx, t.Ref); err != nil {
		return v, err
	}
	bundles, err := a.Store.Bundles(ctx, t.Ref)
	if err != nil {
		return v, err
	}
	for _, b := range bundles {
		v.Bundles = append(v.Bundles, viewBundle(k, b))
	}
	if v.Findings, err = a.pinned(ctx, bundles, v.Events); err != nil {
		return v, err
	}
	for i := range v.Findings {
		v.Findings[i].Ranked = View(k, v.Findings[i].Ranked)
	}
	machines := map[string]Machine{}
	for _, id := range t.Agents {
		ag, err := a.Store.Agent(ctx, id)
		if err != nil {
			return v, err
		}
		m, err := a.Latest(ctx, ag)
		if err != nil {
			return v, err
		}
		machines[id] = m
		v.Assets = append(v.Assets, Asset{AgentID: id, Facts: ag.Facts, LastSeen: ag.LastSeen, Machine: m})
		for _, f := range m.Findings {
			v.Now = append(v.Now, AgentFinding{AgentID: id, SnapshotID: m.SnapshotID, CapturedAt: m.CapturedAt, Ranked: f})
		}
	}
	markChanges(v.Findings, v.Now, machines)
	if v.Similar, err = a.similar(ctx, t.Ref, leading(v.Findings, v.Now)); err != nil {
		return v, err
	}
	return v, nil
}

func (a *API) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.TicketFilter{Status: q.Get("status"), Tier: q.Get("tier"), Assignee: q.Get("assignee")}
	if name := q.Get("agent"); name != "" {
		ag, err := a.FindAgent(r.Context(), name)
		if err != nil {
			a.fail(w, err)
			return
		}
		f.Agent = ag.ID
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		f.Limit = n
	}
	list, err := a.Store.Tickets(r.Context(), f)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *API) getTicket(w http.ResponseWriter, r *http.Request) {
	t, err := a.Ticket(r.Context(), r.PathValue("ref"))
	if err != nil {
		a.fail(w, err)
		return
	}
	v, err := a.TicketDetail(r.Context(), t)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) ticketAction(w http.ResponseWriter, r *http.Request) {
	var req ticket.Request
	if err := decode(w, r, &req); err != nil {
		a.fail(w, err)
		return
	}
	t, err := a.ActOnTicket(r.Context(), r.PathValue("ref"), req)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.writeTicket(w, r, http.StatusOK, t)
}

// ActOnTicket performs req on a ticket for the caller in ctx, within the
// role's ceilings (see access.Ticket).
func (a *API) ActOnTicket(ctx context.Context, ref string, req ticket.Request) (t ticket.Ticket, err error) {
	action := "ticket." + req.Action
	if req.Action == ticket.ActEscalate {
		action += " to " + strings.ToLower(req.To)
	}
	defer func() { a.auditAs(ctx, action, access.ActOnTicket, "ticket="+ref, outcome(err)) }()
	if err := allow(ctx, access.ActOnTicket); err != nil {
		return t, err
	}
	if req.Action == ticket.ActLink {
		if err := a.checkLink(&req); err != nil {
			return t, err
		}
		defer a.wakeCourier()
	}
	if t, err = a.Ticket(ctx, ref); err != nil {
		return t, err
	}
	ref = t.Ref
	k, _ := KeyFrom(ctx)
	t, err = a.Store.UpdateTicket(ctx, ref, func(t *ticket.Ticket) (ticket.Event, error) {
		if err := access.Ticket(k, *t, req); err != nil {
			return ticket.Event{}, err
		}
		return ticket.Apply(t, req, k.Name, time.Now().UTC())
	})
	switch {
	case errors.Is(err, ticket.ErrConflict):
		return t, errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, ticket.ErrInvalid):
		return t, errorf(http.StatusBadRequest, "%v", err)
	}
	return t, err
}

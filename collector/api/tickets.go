package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

// TicketOpen is the body of POST /api/v1/tickets.
type TicketOpen struct {
	Ref    string   `json:"ref,omitempty"` // the helpdesk's key; empty for SND-<n>
	Title  string   `json:"title"`
	Agents []string `json:"agents,omitempty"` // IDs or unique hostnames
	Tier   string   `json:"tier,omitempty"`   // default: l1 for an l1 key, else l2
}

// TicketView is a ticket with its timeline and bundles, the machines it
// concerns (configuration items, kept current from each agent's latest
// hello), the findings of their latest snapshots with the knowledge base's
// fixes, and resolved tickets that had the same findings.
type TicketView struct {
	ticket.Ticket
	Events   []ticket.Event  `json:"events"`
	Bundles  []BundleView    `json:"bundles"`
	Assets   []Asset         `json:"assets"`
	Findings []AgentFinding  `json:"findings"`
	Similar  []ticket.Ticket `json:"similar"`
}

// Asset is a machine on a ticket.
type Asset struct {
	AgentID  string         `json:"agent_id"`
	Facts    protocol.Facts `json:"facts"`
	LastSeen time.Time      `json:"last_seen,omitzero"`
}

// AgentFinding is a finding on one of a ticket's machines.
type AgentFinding struct {
	AgentID    string `json:"agent_id"`
	SnapshotID int64  `json:"snapshot_id"`
	bundle.Ranked
}

func (a *API) ticketRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tickets", a.auth(store.RoleL1, a.openTicket))
	mux.Handle("GET /api/v1/tickets", a.auth(store.RoleL1, a.listTickets))
	mux.Handle("GET /api/v1/tickets/{ref}", a.auth(store.RoleL1, a.getTicket))
	mux.Handle("POST /api/v1/tickets/{ref}/actions", a.auth(store.RoleL1, a.ticketAction))
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

// OpenTicket opens a ticket for the caller in ctx (see WithKey).
func (a *API) OpenTicket(ctx context.Context, req TicketOpen) (ticket.Ticket, error) {
	req.Title = strings.TrimSpace(req.Title)
	if req.Title == "" || len(req.Title) > ticket.MaxTitle {
		return ticket.Ticket{}, errorf(http.StatusBadRequest, "a ticket needs a title of 1 to %d characters", ticket.MaxTitle)
	}
	if req.Ref != "" && !ticket.ValidRef(req.Ref) {
		return ticket.Ticket{}, errorf(http.StatusBadRequest, "ticket reference %q: use letters, digits, '-', '_' and '.', at most 64", req.Ref)
	}
	k, _ := KeyFrom(ctx)
	if req.Tier == "" {
		req.Tier = ticket.L2
		if k.Role == store.RoleL1 {
			req.Tier = ticket.L1
		}
	}
	if !ticket.ValidTier(req.Tier) {
		return ticket.Ticket{}, errorf(http.StatusBadRequest, "tier must be l1, l2 or l3, not %q", req.Tier)
	}
	t := ticket.Ticket{Ref: req.Ref, Title: req.Title, Tier: req.Tier, Status: ticket.New, CreatedBy: k.Name, Agents: []string{}}
	for _, name := range req.Agents {
		ag, err := a.FindAgent(ctx, name)
		if err != nil {
			return t, err
		}
		t.Agents = append(t.Agents, ag.ID)
	}
	now := time.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	t, err := a.Store.CreateTicket(ctx, t, ticket.Event{At: now, Actor: k.Name, Kind: "opened", Text: req.Title, To: ticket.New})
	if errors.Is(err, store.ErrExists) {
		return t, errorf(http.StatusConflict, "ticket %s exists already", req.Ref)
	}
	return t, err
}

func (a *API) writeTicket(w http.ResponseWriter, r *http.Request, status int, t ticket.Ticket) {
	v, err := a.TicketDetail(r.Context(), t)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, status, v)
}

// TicketDetail returns a ticket with its timeline and bundles.
func (a *API) TicketDetail(ctx context.Context, t ticket.Ticket) (TicketView, error) {
	v := TicketView{Ticket: t, Bundles: []BundleView{}}
	var err error
	if v.Events, err = a.Store.TicketEvents(ctx, t.Ref); err != nil {
		return v, err
	}
	bundles, err := a.Store.Bundles(ctx, t.Ref)
	if err != nil {
		return v, err
	}
	for _, b := range bundles {
		v.Bundles = append(v.Bundles, viewBundle(b))
	}
	v.Assets, v.Findings = []Asset{}, []AgentFinding{}
	var ids []string
	for _, id := range t.Agents {
		ag, err := a.Store.Agent(ctx, id)
		if err != nil {
			return v, err
		}
		v.Assets = append(v.Assets, Asset{AgentID: id, Facts: ag.Facts, LastSeen: ag.LastSeen})
		latest, err := a.Store.Snapshots(ctx, id, store.SnapshotFilter{Kind: "full", Limit: 1})
		if err != nil || len(latest) == 0 {
			continue
		}
		snap, err := a.Store.Snapshot(ctx, latest[0].ID)
		if err != nil {
			return v, err
		}
		for _, f := range findings.Analyze(&snap.Document, nil) {
			af := AgentFinding{AgentID: id, SnapshotID: snap.ID, Ranked: bundle.Ranked{Finding: f}}
			if e, ok := a.Bundles.KB.Entry(f.ID); ok {
				af.KB = &e
			}
			v.Findings = append(v.Findings, af)
			ids = append(ids, f.ID)
		}
	}
	if v.Similar, err = a.Store.SimilarTickets(ctx, ids, t.Ref, 10); err != nil {
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
	t, err := a.Store.Ticket(r.Context(), r.PathValue("ref"))
	if err != nil {
		a.fail(w, err)
		return
	}
	a.writeTicket(w, r, http.StatusOK, t)
}

// actionRole is the least role for each action: L1 may add notes and hand
// a ticket up to L2; working and closing tickets is L2's.
func actionRole(req ticket.Request) string {
	switch {
	case req.Action == ticket.ActNote:
		return store.RoleL1
	case req.Action == ticket.ActEscalate && strings.EqualFold(req.To, ticket.L2):
		return store.RoleL1
	}
	return store.RoleL2
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

// ActOnTicket performs req on a ticket for the caller in ctx, checking the
// caller's role for the action.
func (a *API) ActOnTicket(ctx context.Context, ref string, req ticket.Request) (ticket.Ticket, error) {
	k, _ := KeyFrom(ctx)
	if need := actionRole(req); store.RoleRank(k.Role) < store.RoleRank(need) {
		return ticket.Ticket{}, errorf(http.StatusForbidden, "API key %q has role %s; %s needs %s or above", k.Name, k.Role, req.Action, need)
	}
	t, err := a.Store.UpdateTicket(ctx, ref, func(t *ticket.Ticket) (ticket.Event, error) {
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

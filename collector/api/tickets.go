package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// TicketOpen is the body of POST /api/v1/tickets.
type TicketOpen struct {
	Ref    string   `json:"ref,omitempty"` // the helpdesk's key; empty for SND-<n>
	Title  string   `json:"title"`
	Agents []string `json:"agents,omitempty"` // IDs or unique hostnames
	Tier   string   `json:"tier,omitempty"`   // default: l1 for an l1 key, else l2
}

// TicketView is a ticket with its timeline and bundles.
type TicketView struct {
	ticket.Ticket
	Events  []ticket.Event `json:"events"`
	Bundles []BundleView   `json:"bundles"`
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
	req.Title = strings.TrimSpace(req.Title)
	if req.Title == "" || len(req.Title) > ticket.MaxTitle {
		writeError(w, http.StatusBadRequest, "a ticket needs a title of 1 to %d characters", ticket.MaxTitle)
		return
	}
	if req.Ref != "" && !ticket.ValidRef(req.Ref) {
		writeError(w, http.StatusBadRequest, "ticket reference %q: use letters, digits, '-', '_' and '.', at most 64", req.Ref)
		return
	}
	k, _ := KeyFrom(r.Context())
	if req.Tier == "" {
		req.Tier = ticket.L2
		if k.Role == store.RoleL1 {
			req.Tier = ticket.L1
		}
	}
	if !ticket.ValidTier(req.Tier) {
		writeError(w, http.StatusBadRequest, "tier must be l1, l2 or l3, not %q", req.Tier)
		return
	}
	t := ticket.Ticket{Ref: req.Ref, Title: req.Title, Tier: req.Tier, Status: ticket.New, CreatedBy: k.Name, Agents: []string{}}
	for _, name := range req.Agents {
		ag, err := a.findAgent(r.Context(), name)
		if err != nil {
			a.fail(w, err)
			return
		}
		t.Agents = append(t.Agents, ag.ID)
	}
	now := time.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	t, err := a.Store.CreateTicket(r.Context(), t, ticket.Event{At: now, Actor: k.Name, Kind: "opened", Text: req.Title, To: ticket.New})
	if errors.Is(err, store.ErrExists) {
		writeError(w, http.StatusConflict, "ticket %s exists already", req.Ref)
		return
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	a.writeTicket(w, r, http.StatusCreated, t)
}

func (a *API) writeTicket(w http.ResponseWriter, r *http.Request, status int, t ticket.Ticket) {
	events, err := a.Store.TicketEvents(r.Context(), t.Ref)
	if err != nil {
		a.fail(w, err)
		return
	}
	bundles, err := a.Store.Bundles(r.Context(), t.Ref)
	if err != nil {
		a.fail(w, err)
		return
	}
	v := TicketView{Ticket: t, Events: events, Bundles: []BundleView{}}
	for _, b := range bundles {
		v.Bundles = append(v.Bundles, viewBundle(b))
	}
	writeJSON(w, status, v)
}

func (a *API) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.TicketFilter{Status: q.Get("status"), Tier: q.Get("tier"), Assignee: q.Get("assignee")}
	if name := q.Get("agent"); name != "" {
		ag, err := a.findAgent(r.Context(), name)
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
	k, _ := KeyFrom(r.Context())
	if need := actionRole(req); store.RoleRank(k.Role) < store.RoleRank(need) {
		writeError(w, http.StatusForbidden, "API key %q has role %s; %s needs %s or above", k.Name, k.Role, req.Action, need)
		return
	}
	t, err := a.Store.UpdateTicket(r.Context(), r.PathValue("ref"), func(t *ticket.Ticket) (ticket.Event, error) {
		return ticket.Apply(t, req, k.Name, time.Now().UTC())
	})
	switch {
	case errors.Is(err, ticket.ErrConflict):
		writeError(w, http.StatusConflict, "%v", err)
	case errors.Is(err, ticket.ErrInvalid):
		writeError(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		a.fail(w, err)
	default:
		a.writeTicket(w, r, http.StatusOK, t)
	}
}

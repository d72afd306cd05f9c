package courier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/ticket"
)

// poll reads back the state of the helpdesk's linked tickets every
// Settings.Poll; a helpdesk with webhooks is polled too, at the same
// interval, so that a lost webhook call is caught up.
func (c *Courier) poll(ctx context.Context, name string) {
	every := c.Settings[name].Poll
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ts, err := c.Store.LinkedTickets(ctx, name)
		if err != nil && ctx.Err() == nil {
			c.Log.Error("reading helpdesk states", "helpdesk", name, "err", err)
		}
		for _, tk := range ts {
			if ctx.Err() != nil {
				return
			}
			sctx, cancel := context.WithTimeout(ctx, c.timeout(name))
			st, err := c.Connectors[name].State(sctx, tk.External)
			cancel()
			if errors.Is(err, helpdesk.ErrUnsupported) {
				return // a webhook: it tells, or nothing does
			}
			if err == nil {
				_, err = c.Follow(ctx, name, tk.External, st)
			}
			if err != nil && ctx.Err() == nil {
				c.Log.Warn("reading a helpdesk ticket's state", "helpdesk", name, "ticket", tk.Ref, "key", tk.External, "err", err)
			}
		}
	}
}

// Follow brings the Sonde ticket linked to key in helpdesk name in line
// with the helpdesk's state: resolved, closed or reopened there, and its
// assignee. It returns the moves it made, as the timeline names them.
func (c *Courier) Follow(ctx context.Context, name, key string, st helpdesk.State) ([]string, error) {
	t, err := c.Store.TicketByExternal(ctx, name, key)
	if err != nil {
		return nil, err
	}
	var moves []string
	for _, req := range moves4(t, st) {
		req.Text = "in " + name + " " + key
		_, err := c.Store.UpdateTicket(ctx, t.Ref, func(t *ticket.Ticket) (ticket.Event, error) {
			if !stillNeeded(*t, req, st) {
				return ticket.Event{}, errNothing
			}
			return ticket.Apply(t, req, Actor(name), time.Now().UTC())
		})
		switch {
		case errors.Is(err, errNothing):
		case err != nil:
			return moves, fmt.Errorf("following %s %s on ticket %s: %w", name, key, t.Ref, err)
		default:
			moves = append(moves, req.Action)
		}
	}
	c.metrics.followed(name, moves)
	return moves, nil
}

var errNothing = errors.New("nothing to do")

// moves4 is what t needs to match st.
func moves4(t ticket.Ticket, st helpdesk.State) []ticket.Request {
	var out []ticket.Request
	done := t.Status == ticket.Resolved || t.Status == ticket.Closed
	switch st.Status {
	case helpdesk.StatusOpen:
		if done {
			out = append(out, ticket.Request{Action: ticket.ActReopen})
		}
	case helpdesk.StatusResolved:
		if !done {
			out = append(out, ticket.Request{Action: ticket.ActResolve})
		}
	case helpdesk.StatusClosed:
		if t.Status != ticket.Closed {
			out = append(out, ticket.Request{Action: ticket.ActClose})
		}
	}
	if a := oneLine(st.Assignee); a != "" && len(a) <= ticket.MaxName && a != t.Assignee && st.Status != helpdesk.StatusClosed {
		out = append([]ticket.Request{{Action: ticket.ActAssign, Assignee: a}}, out...)
	}
	return out
}

// stillNeeded checks req against the ticket as it is inside the update,
// which may have moved since it was read.
func stillNeeded(t ticket.Ticket, req ticket.Request, st helpdesk.State) bool {
	for _, r := range moves4(t, st) {
		if r.Action == req.Action {
			return true
		}
	}
	return false
}

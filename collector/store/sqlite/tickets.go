package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

const ticketColumns = `ref, title, agents, tier, assignee, status, created_by, created_at, updated_at, escalations, reopened, helpdesk, external, queue`

func scanTicket(sc interface{ Scan(...any) error }) (ticket.Ticket, error) {
	var t ticket.Ticket
	var agents string
	var created, updated int64
	err := sc.Scan(&t.Ref, &t.Title, &agents, &t.Tier, &t.Assignee, &t.Status, &t.CreatedBy, &created, &updated, &t.Escalations, &t.Reopened, &t.Helpdesk, &t.External, &t.Queue)
	if err != nil {
		return t, err // the caller names the operation
	}
	if err := json.Unmarshal([]byte(agents), &t.Agents); err != nil {
		return t, fmt.Errorf("ticket %s agents: %w", t.Ref, err)
	}
	t.CreatedAt, t.UpdatedAt = fromNano(created), fromNano(updated)
	return t, nil
}

// CreateTicket stores a new ticket and its first event.
func (s *Store) CreateTicket(ctx context.Context, t ticket.Ticket, ev ticket.Event) (ticket.Ticket, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return t, fmt.Errorf("creating ticket %q: %w", t.Title, err)
	}
	defer tx.Rollback()
	if t.Ref == "" {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tickets`).Scan(&n); err != nil {
			return t, fmt.Errorf("creating ticket %q: counting tickets: %w", t.Title, err)
		}
		for ; ; n++ {
			t.Ref = fmt.Sprintf("SND-%d", n+1)
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM tickets WHERE ref = ?`, t.Ref).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				break
			}
			if err != nil {
				return t, fmt.Errorf("creating ticket %q: choosing a reference: %w", t.Title, err)
			}
		}
	}
	if err := putTicket(ctx, tx, &t, true); err != nil {
		return t, err
	}
	if err := addEvent(ctx, tx, t.Ref, &ev); err != nil {
		return t, fmt.Errorf("creating ticket %s: %w", t.Ref, err)
	}
	if err := tx.Commit(); err != nil {
		return t, fmt.Errorf("creating ticket %s: %w", t.Ref, err)
	}
	return t, nil
}

// putTicket inserts or updates t in tx; its errors name the ticket.
func putTicket(ctx context.Context, tx *sql.Tx, t *ticket.Ticket, insert bool) error {
	verb := "updating"
	if insert {
		verb = "creating"
	}
	agents, err := json.Marshal(t.Agents)
	if err != nil {
		return fmt.Errorf("%s ticket %s: encoding agents: %w", verb, t.Ref, err)
	}
	if insert {
		_, err = tx.ExecContext(ctx, `INSERT INTO tickets(`+ticketColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			t.Ref, t.Title, agents, t.Tier, t.Assignee, t.Status, t.CreatedBy, unixNano(t.CreatedAt), unixNano(t.UpdatedAt), t.Escalations, t.Reopened, t.Helpdesk, t.External, t.Queue)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("ticket %s: %w", t.Ref, store.ErrExists)
		}
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE tickets SET title=?, agents=?, tier=?, assignee=?, status=?, updated_at=?, escalations=?, reopened=?, helpdesk=?, external=?, queue=? WHERE ref=?`,
			t.Title, agents, t.Tier, t.Assignee, t.Status, unixNano(t.UpdatedAt), t.Escalations, t.Reopened, t.Helpdesk, t.External, t.Queue, t.Ref)
	}
	if err != nil {
		return fmt.Errorf("%s ticket %s: %w", verb, t.Ref, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ticket_agents WHERE ref = ?`, t.Ref); err != nil {
		return fmt.Errorf("%s ticket %s: linking agents: %w", verb, t.Ref, err)
	}
	for _, a := range t.Agents {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO ticket_agents(ref, agent_id) VALUES (?,?)`, t.Ref, a); err != nil {
			return fmt.Errorf("%s ticket %s: linking agent %s: %w", verb, t.Ref, a, err)
		}
	}
	return nil
}

// addEvent appends ev to ticket ref's timeline in tx; the caller names
// the operation.
func addEvent(ctx context.Context, tx *sql.Tx, ref string, ev *ticket.Event) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO ticket_events(ref, at, actor, kind, text, from_value, to_value, bundle_id, snapshot_id) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id`,
		ref, unixNano(ev.At), ev.Actor, ev.Kind, ev.Text, ev.From, ev.To, ev.Bundle, ev.Snapshot).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("adding a %s event: %w", ev.Kind, err)
	}
	return nil
}

// Ticket returns one ticket.
func (s *Store) Ticket(ctx context.Context, ref string) (ticket.Ticket, error) {
	t, err := scanTicket(s.r.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE ref = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("ticket %s: %w", ref, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("reading ticket %s: %w", ref, err)
	}
	return t, nil
}

// Tickets lists tickets, most recently updated first.
func (s *Store) Tickets(ctx context.Context, f store.TicketFilter) ([]ticket.Ticket, error) {
	q := `SELECT ` + ticketColumns + ` FROM tickets WHERE 1=1`
	var args []any
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"tier", f.Tier}, {"assignee", f.Assignee}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.Agent != "" {
		q += ` AND ref IN (SELECT ref FROM ticket_agents WHERE agent_id = ?)`
		args = append(args, f.Agent)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	q += ` ORDER BY updated_at DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing tickets: %w", err)
	}
	defer rows.Close()
	out := []ticket.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tickets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tickets: %w", err)
	}
	return out, nil
}

// TicketEvents returns a ticket's timeline, oldest first.
func (s *Store) TicketEvents(ctx context.Context, ref string) ([]ticket.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, kind, text, from_value, to_value, bundle_id, snapshot_id FROM ticket_events WHERE ref = ? ORDER BY id`, ref)
	if err != nil {
		return nil, fmt.Errorf("reading the timeline of ticket %s: %w", ref, err)
	}
	defer rows.Close()
	out := []ticket.Event{}
	for rows.Next() {
		var ev ticket.Event
		var at int64
		if err := rows.Scan(&ev.ID, &at, &ev.Actor, &ev.Kind, &ev.Text, &ev.From, &ev.To, &ev.Bundle, &ev.Snapshot); err != nil {
			return nil, fmt.Errorf("reading the timeline of ticket %s: %w", ref, err)
		}
		ev.At = fromNano(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the timeline of ticket %s: %w", ref, err)
	}
	return out, nil
}

// UpdateTicket applies fn to a ticket in one transaction.
func (s *Store) UpdateTicket(ctx context.Context, ref string, fn func(*ticket.Ticket) (ticket.Event, error)) (ticket.Ticket, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ticket.Ticket{}, fmt.Errorf("updating ticket %s: %w", ref, err)
	}
	defer tx.Rollback()
	t, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE ref = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("ticket %s: %w", ref, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("updating ticket %s: %w", ref, err)
	}
	// fn's error is the caller's own (a refused action, say): it goes back
	// as it is.
	ev, err := fn(&t)
	if err != nil {
		return t, err
	}
	if err := putTicket(ctx, tx, &t, false); err != nil {
		return t, err
	}
	if err := addEvent(ctx, tx, ref, &ev); err != nil {
		return t, fmt.Errorf("updating ticket %s: %w", ref, err)
	}
	if err := tx.Commit(); err != nil {
		return t, fmt.Errorf("updating ticket %s: %w", ref, err)
	}
	return t, nil
}

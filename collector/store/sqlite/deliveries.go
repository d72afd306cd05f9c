package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// planDeliveries is the outbox as the tickets call for it. Markers are
// what the helpdesk's ticket keeps of each step: the open's in the
// subject, the comment's in its text, the attachment's as its file name.
const planDeliveries = `
INSERT OR IGNORE INTO deliveries(ticket_ref, helpdesk, external, step, bundle_id, marker, next_at, created_at)
SELECT ref, helpdesk, '', 'open', 0, 'sonde:' || ref, ?1, ?1
	FROM tickets WHERE helpdesk != '' AND external = '' AND status != 'closed';
INSERT OR IGNORE INTO deliveries(ticket_ref, helpdesk, external, step, bundle_id, marker, next_at, created_at)
SELECT t.ref, t.helpdesk, t.external, s.step, b.id,
	CASE s.step WHEN 'comment' THEN 'sonde:' || t.ref || '/bundle-' || b.id || '/comment'
		ELSE 'sonde-' || t.ref || '-bundle-' || b.id || '.zip' END,
	?1, ?1
	FROM tickets t JOIN bundles b ON b.ticket_ref = t.ref
	CROSS JOIN (SELECT 'comment' AS step, 1 AS n UNION ALL SELECT 'attach', 2) s
	WHERE t.helpdesk != '' AND t.external != ''
	ORDER BY b.id, s.n;`

// PlanDeliveries adds the steps the tickets call for.
func (s *Store) PlanDeliveries(ctx context.Context, now time.Time) error {
	if _, err := s.w.ExecContext(ctx, planDeliveries, unixNano(now)); err != nil {
		return fmt.Errorf("planning helpdesk deliveries: %w", err)
	}
	return nil
}

const deliveryColumns = `id, ticket_ref, helpdesk, external, step, bundle_id, marker, state, attempts, next_at, last_error, created_at, sent_at`

func scanDeliveries(rows *sql.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	out := []store.Delivery{}
	for rows.Next() {
		var d store.Delivery
		var next, created, sent int64
		if err := rows.Scan(&d.ID, &d.Ticket, &d.Helpdesk, &d.External, &d.Step, &d.Bundle, &d.Marker, &d.State, &d.Attempts, &next, &d.LastError, &created, &sent); err != nil {
			return nil, fmt.Errorf("reading a delivery: %w", err)
		}
		d.NextAt, d.CreatedAt, d.SentAt = fromNano(next), fromNano(created), fromNano(sent)
		if d.State == store.DeliveryWait && d.LastError != "" {
			d.State = store.DeliveryFailed
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading deliveries: %w", err)
	}
	return out, nil
}

// DueDeliveries lists helpdesk's steps due at now.
func (s *Store) DueDeliveries(ctx context.Context, helpdesk string, now time.Time, limit int) ([]store.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		WHERE helpdesk = ? AND state = 'pending' AND next_at <= ?
		AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.ticket_ref = d.ticket_ref AND e.helpdesk = d.helpdesk
			AND e.state = 'pending' AND e.id < d.id)
		ORDER BY id LIMIT ?`, helpdesk, unixNano(now), limit)
	if err != nil {
		return nil, fmt.Errorf("listing due deliveries to %s: %w", helpdesk, err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("listing due deliveries to %s: %w", helpdesk, err)
	}
	return ds, nil
}

// AttemptDelivery counts an attempt before it is made.
func (s *Store) AttemptDelivery(ctx context.Context, id int64, next time.Time) error {
	return s.updateDelivery(ctx, id, "counting an attempt of", `UPDATE deliveries SET attempts = attempts + 1, next_at = ? WHERE id = ? AND state = 'pending'`, unixNano(next), id)
}

// FinishDelivery marks a step sent.
func (s *Store) FinishDelivery(ctx context.Context, id int64, at time.Time) error {
	return s.updateDelivery(ctx, id, "finishing", `UPDATE deliveries SET state = 'sent', sent_at = ?, last_error = '' WHERE id = ? AND state = 'pending'`, unixNano(at), id)
}

// FailDelivery records why an attempt failed.
func (s *Store) FailDelivery(ctx context.Context, id int64, why string, next time.Time) error {
	if len(why) > 1000 {
		why = why[:1000]
	}
	return s.updateDelivery(ctx, id, "recording the failure of", `UPDATE deliveries SET last_error = ?, next_at = CASE WHEN ? = 0 THEN next_at ELSE ? END WHERE id = ? AND state = 'pending'`,
		why, unixNano(next), unixNano(next), id)
}

func (s *Store) updateDelivery(ctx context.Context, id int64, verb, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s delivery %d: %w", verb, id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%s delivery %d: %w (no pending step by that ID)", verb, id, store.ErrNotFound)
	}
	return nil
}

// Deliveries lists a ticket's steps.
func (s *Store) Deliveries(ctx context.Context, ref string) ([]store.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE ticket_ref = ? ORDER BY id`, ref)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries of ticket %s: %w", ref, err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries of ticket %s: %w", ref, err)
	}
	return ds, nil
}

// DeliveryCounts counts the outbox by helpdesk and state.
func (s *Store) DeliveryCounts(ctx context.Context) ([]store.DeliveryCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT helpdesk, CASE WHEN state = 'pending' AND last_error != '' THEN 'failing' ELSE state END AS st, count(*)
		FROM deliveries GROUP BY helpdesk, st ORDER BY helpdesk, st`)
	if err != nil {
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.DeliveryCount
	for rows.Next() {
		var c store.DeliveryCount
		if err := rows.Scan(&c.Helpdesk, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("counting deliveries: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	return out, nil
}

// LinkedTickets lists the open tickets linked to a key in helpdesk.
func (s *Store) LinkedTickets(ctx context.Context, helpdesk string) ([]ticket.Ticket, error) {
	return s.ticketsWhere(ctx, "listing tickets linked to "+helpdesk, `helpdesk = ? AND external != '' AND status != 'closed'`, helpdesk)
}

// TicketByExternal finds the ticket linked to key.
func (s *Store) TicketByExternal(ctx context.Context, helpdesk, key string) (ticket.Ticket, error) {
	op := "finding the ticket linked to " + key
	var ts []ticket.Ticket
	var err error
	if helpdesk == "" {
		ts, err = s.ticketsWhere(ctx, op, `external = ?`, key)
	} else {
		ts, err = s.ticketsWhere(ctx, op, `external = ? AND helpdesk = ?`, key, helpdesk)
	}
	switch {
	case err != nil:
		return ticket.Ticket{}, err
	case len(ts) == 0:
		return ticket.Ticket{}, fmt.Errorf("no ticket is linked to %s: %w", key, store.ErrNotFound)
	case len(ts) > 1:
		return ticket.Ticket{}, fmt.Errorf("%d tickets are linked to %s in different helpdesks; name it HELPDESK:KEY: %w", len(ts), key, store.ErrExists)
	}
	return ts[0], nil
}

func (s *Store) ticketsWhere(ctx context.Context, op, where string, args ...any) ([]ticket.Ticket, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE `+where+` ORDER BY ref LIMIT 10000`, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []ticket.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

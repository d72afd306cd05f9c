package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// OpenTickets counts tickets neither resolved nor closed, by tier and status.
func (s *Store) OpenTickets(ctx context.Context) ([]store.TicketCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT tier, status, COUNT(*) FROM tickets
		WHERE status NOT IN (?, ?) GROUP BY tier, status ORDER BY tier, status`, ticket.Resolved, ticket.Closed)
	if err != nil {
		return nil, fmt.Errorf("counting open tickets: %w", err)
	}
	defer rows.Close()
	var out []store.TicketCount
	for rows.Next() {
		var c store.TicketCount
		if err := rows.Scan(&c.Tier, &c.Status, &c.Count); err != nil {
			return nil, fmt.Errorf("counting open tickets: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting open tickets: %w", err)
	}
	return out, nil
}

// ResolvedTickets lists tickets whose first resolve event is at or after since.
func (s *Store) ResolvedTickets(ctx context.Context, since time.Time) ([]store.ResolvedTicket, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT t.ref, t.created_at, MIN(e.at), t.escalations, t.reopened
		FROM tickets t JOIN ticket_events e ON e.ref = t.ref AND e.kind = ?
		GROUP BY t.ref HAVING MIN(e.at) >= ? ORDER BY t.ref`, ticket.ActResolve, unixNano(since))
	if err != nil {
		return nil, fmt.Errorf("listing resolved tickets: %w", err)
	}
	defer rows.Close()
	var out []store.ResolvedTicket
	for rows.Next() {
		var r store.ResolvedTicket
		var opened, resolved int64
		if err := rows.Scan(&r.Ref, &opened, &resolved, &r.Escalations, &r.Reopened); err != nil {
			return nil, fmt.Errorf("listing resolved tickets: %w", err)
		}
		r.OpenedAt, r.ResolvedAt = fromNano(opened), fromNano(resolved)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing resolved tickets: %w", err)
	}
	return out, nil
}

// RepeatIncidents counts (agent, finding) pairs found by bundles created at
// or after since on more than one ticket.
func (s *Store) RepeatIncidents(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (
		SELECT b.agent_id, f.value FROM bundles b, json_each(b.findings) f
		WHERE b.created_at >= ? AND b.agent_id != ''
		GROUP BY b.agent_id, f.value HAVING COUNT(DISTINCT b.ticket_ref) > 1)`, unixNano(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting repeat incidents: %w", err)
	}
	return n, nil
}

// SizeBytes is the size of the database file and its write-ahead log.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != s.path {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("measuring the database: %w", err)
		}
		total += fi.Size()
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("measuring the database: %w", err)
	}
	return total, nil
}

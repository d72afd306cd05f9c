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

const bundleColumns = `id, ticket_ref, agent_id, snapshot_id, fresh, note, sha256, size, findings, created_at, created_by, path, pseudonyms, kind, evidence`

// AddBundle records a bundle and its ticket event.
func (s *Store) AddBundle(ctx context.Context, b store.Bundle, ev ticket.Event) (store.Bundle, error) {
	fs, err := json.Marshal(b.Findings)
	if err != nil {
		return b, fmt.Errorf("recording a bundle of ticket %s: encoding findings: %w", b.Ticket, err)
	}
	ps, err := json.Marshal(b.Pseudonyms)
	if err != nil {
		return b, fmt.Errorf("recording a bundle of ticket %s: encoding pseudonyms: %w", b.Ticket, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return b, fmt.Errorf("recording a bundle of ticket %s: %w", b.Ticket, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE tickets SET updated_at = ? WHERE ref = ?`, unixNano(ev.At), b.Ticket)
	if err != nil {
		return b, fmt.Errorf("recording a bundle of ticket %s: %w", b.Ticket, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return b, fmt.Errorf("recording a bundle of ticket %s: %w", b.Ticket, err)
	} else if n == 0 {
		return b, fmt.Errorf("ticket %s: %w", b.Ticket, store.ErrNotFound)
	}
	if b.Kind == "" {
		b.Kind = "bundle"
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO bundles(ticket_ref, agent_id, snapshot_id, fresh, note, sha256, size, findings, created_at, created_by, path, pseudonyms, kind, evidence)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
		b.Ticket, b.AgentID, b.SnapshotID, b.Fresh, b.Note, b.SHA256, b.Size, fs, unixNano(b.CreatedAt), b.CreatedBy, b.Path, ps, b.Kind, string(b.Evidence)).Scan(&b.ID)
	if err != nil {
		return b, fmt.Errorf("recording a %s of ticket %s: %w", b.Kind, b.Ticket, err)
	}
	ev.Bundle, ev.Snapshot = b.ID, b.SnapshotID
	if err := addEvent(ctx, tx, b.Ticket, &ev); err != nil {
		return b, fmt.Errorf("recording %s %d of ticket %s: %w", b.Kind, b.ID, b.Ticket, err)
	}
	if err := tx.Commit(); err != nil {
		return b, fmt.Errorf("recording %s %d of ticket %s: %w", b.Kind, b.ID, b.Ticket, err)
	}
	return b, nil
}

func scanBundle(sc interface{ Scan(...any) error }) (store.Bundle, error) {
	var b store.Bundle
	var fs, ps, evidence string
	var created int64
	err := sc.Scan(&b.ID, &b.Ticket, &b.AgentID, &b.SnapshotID, &b.Fresh, &b.Note, &b.SHA256, &b.Size, &fs, &created, &b.CreatedBy, &b.Path, &ps, &b.Kind, &evidence)
	if err != nil {
		return b, err // the caller names the operation
	}
	b.CreatedAt = fromNano(created)
	if evidence != "" {
		b.Evidence = json.RawMessage(evidence)
	}
	if err := json.Unmarshal([]byte(fs), &b.Findings); err != nil {
		return b, fmt.Errorf("bundle %d findings: %w", b.ID, err)
	}
	if err := json.Unmarshal([]byte(ps), &b.Pseudonyms); err != nil {
		return b, fmt.Errorf("bundle %d pseudonyms: %w", b.ID, err)
	}
	return b, nil
}

// Bundle returns one bundle's record.
func (s *Store) Bundle(ctx context.Context, id int64) (store.Bundle, error) {
	b, err := scanBundle(s.r.QueryRowContext(ctx, `SELECT `+bundleColumns+` FROM bundles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bundle %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("reading bundle %d: %w", id, err)
	}
	return b, nil
}

// Bundles lists a ticket's bundles, oldest first.
func (s *Store) Bundles(ctx context.Context, ref string) ([]store.Bundle, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+bundleColumns+` FROM bundles WHERE ticket_ref = ? ORDER BY id`, ref)
	if err != nil {
		return nil, fmt.Errorf("listing bundles of ticket %s: %w", ref, err)
	}
	defer rows.Close()
	out := []store.Bundle{}
	for rows.Next() {
		b, err := scanBundle(rows)
		if err != nil {
			return nil, fmt.Errorf("listing bundles of ticket %s: %w", ref, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing bundles of ticket %s: %w", ref, err)
	}
	return out, nil
}

// SimilarTickets finds resolved or closed tickets whose bundles share a
// finding with the given IDs.
func (s *Store) SimilarTickets(ctx context.Context, ids []string, exclude string, limit int) ([]ticket.Ticket, error) {
	out := []ticket.Ticket{}
	if len(ids) == 0 {
		return out, nil
	}
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets WHERE ref != ? AND status IN ('resolved', 'closed') AND ref IN (
		SELECT b.ticket_ref FROM bundles b, json_each(b.findings) f WHERE f.value IN (?` + strings.Repeat(",?", len(ids)-1) + `))
		ORDER BY updated_at DESC LIMIT ?`
	args := []any{exclude}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("finding similar tickets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("finding similar tickets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding similar tickets: %w", err)
	}
	return out, nil
}

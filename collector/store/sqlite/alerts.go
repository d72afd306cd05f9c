package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/store"
)

// AlertState returns the saved alerts, by fingerprint.
func (s *Store) AlertState(ctx context.Context) ([]alert.Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM alert_state ORDER BY fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("reading alert state: %w", err)
	}
	defer rows.Close()
	out := []alert.Alert{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("reading alert state: %w", err)
		}
		var a alert.Alert
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return nil, fmt.Errorf("reading alert state: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert state: %w", err)
	}
	return out, nil
}

// SaveAlertState replaces the saved alerts in one transaction.
func (s *Store) SaveAlertState(ctx context.Context, alerts []alert.Alert) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("saving alert state: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_state`); err != nil {
		return fmt.Errorf("saving alert state: %w", err)
	}
	for _, a := range alerts {
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("saving alert %s: %w", a.Fingerprint, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_state (fingerprint, data) VALUES (?, ?)`, a.Fingerprint, string(data)); err != nil {
			return fmt.Errorf("saving alert %s: %w", a.Fingerprint, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("saving alert state: %w", err)
	}
	return nil
}

// PutSilence stores or replaces a silence.
func (s *Store) PutSilence(ctx context.Context, sl alert.Silence) error {
	data, err := json.Marshal(sl)
	if err != nil {
		return fmt.Errorf("storing silence %s: %w", sl.ID, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO silences (id, ends_at, data) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, data = excluded.data`, sl.ID, unixNano(sl.EndsAt), string(data))
	if err != nil {
		return fmt.Errorf("storing silence %s: %w", sl.ID, err)
	}
	return nil
}

// Silences lists the silences not ended at now, by end.
func (s *Store) Silences(ctx context.Context, now time.Time) ([]alert.Silence, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM silences WHERE ends_at > ? ORDER BY ends_at, id`, unixNano(now))
	if err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	defer rows.Close()
	out := []alert.Silence{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("listing silences: %w", err)
		}
		var sl alert.Silence
		if err := json.Unmarshal([]byte(data), &sl); err != nil {
			return nil, fmt.Errorf("listing silences: %w", err)
		}
		out = append(out, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	return out, nil
}

// ExpireSilence ends the silence id at at.
func (s *Store) ExpireSilence(ctx context.Context, id string, at time.Time) error {
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM silences WHERE id = ? AND ends_at > ?`, id, unixNano(at)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("silence %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("expiring silence %s: %w", id, err)
	}
	var sl alert.Silence
	if err := json.Unmarshal([]byte(data), &sl); err != nil {
		return fmt.Errorf("expiring silence %s: %w", id, err)
	}
	sl.EndsAt = at
	if !sl.StartsAt.Before(at) {
		sl.StartsAt = at.Add(-time.Nanosecond)
	}
	return s.PutSilence(ctx, sl)
}

package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sondehq/sonde/collector/store"
)

// chain returns an entry's hash: SHA-256 over the previous hash and the
// entry's fields, each length-prefixed so no two entries encode alike.
func chain(prev []byte, e *store.AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixNano()))
	h.Write(n[:])
	for _, f := range []string{e.Actor, e.Action, e.Target, e.Detail} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// Audit appends e to the chain.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("appending %s to the audit log: %w", e.Action, err)
	}
	defer tx.Rollback()
	var prev []byte
	err = tx.QueryRowContext(ctx, `SELECT hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("appending %s to the audit log: reading the last hash: %w", e.Action, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit(at, actor, action, target, detail, hash) VALUES (?,?,?,?,?,?)`,
		e.At.UnixNano(), e.Actor, e.Action, e.Target, e.Detail, chain(prev, &e)); err != nil {
		return fmt.Errorf("appending %s to the audit log: %w", e.Action, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("appending %s to the audit log: %w", e.Action, err)
	}
	return nil
}

// AuditLog returns the newest entries and verifies the whole chain.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]store.AuditEntry, int64, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, action, target, detail, hash FROM audit ORDER BY id`)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the audit log: %w", err)
	}
	defer rows.Close()
	var all []store.AuditEntry
	var prev []byte
	var broken int64
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		var hash []byte
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail, &hash); err != nil {
			return nil, 0, fmt.Errorf("reading the audit log: %w", err)
		}
		e.At = time.Unix(0, at).UTC()
		e.Hash = hex.EncodeToString(hash)
		if broken == 0 && hex.EncodeToString(chain(prev, &e)) != e.Hash {
			broken = e.ID
		}
		prev = hash
		all = append(all, e)
		if len(all) > limit {
			all = all[1:]
		}
	}
	// Newest first.
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading the audit log: %w", err)
	}
	return all, broken, nil
}

// AuditHead returns the newest entry's ID and hash (0 and nil when the log
// is empty).
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var id int64
	var hash []byte
	err := s.r.QueryRowContext(ctx, `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("reading the audit log's head: %w", err)
	}
	return id, hash, nil
}

// AuditHash returns the stored hash of entry id, store.ErrNotFound when
// there is none.
func (s *Store) AuditHash(ctx context.Context, id int64) ([]byte, error) {
	var hash []byte
	err := s.r.QueryRowContext(ctx, `SELECT hash FROM audit WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("audit entry %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading audit entry %d: %w", id, err)
	}
	return hash, nil
}

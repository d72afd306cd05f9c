package sqlite

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sondehq/sonde/collector/store"
)

// tokenIDLen is how many hex digits of a token's hash name it.
const tokenIDLen = 12

// Tokens lists the tokens that can still enroll at now.
func (s *Store) Tokens(ctx context.Context, now time.Time) ([]store.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT hash, created_at, expires_at, uses_left, created_by, scope FROM tokens
		WHERE uses_left > 0 AND expires_at > ? ORDER BY created_at`, unixNano(now))
	if err != nil {
		return nil, fmt.Errorf("listing enrollment tokens: %w", err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		var t store.Token
		var created, expires int64
		if err := rows.Scan(&t.Hash, &created, &expires, &t.Uses, &t.CreatedBy, &t.Scope); err != nil {
			return nil, fmt.Errorf("listing enrollment tokens: %w", err)
		}
		t.ID = hex.EncodeToString(t.Hash)[:tokenIDLen]
		t.CreatedAt, t.ExpiresAt = fromNano(created), fromNano(expires)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing enrollment tokens: %w", err)
	}
	return out, nil
}

// RevokeToken uses up the token whose hash starts with id.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	raw, err := hex.DecodeString(id)
	if err != nil || len(id) != tokenIDLen {
		return fmt.Errorf("token ID %q: %w", id, store.ErrNotFound)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE tokens SET uses_left = 0 WHERE substr(hash, 1, ?) = ? AND uses_left > 0`, len(raw), raw)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("token %s (or it is used up already): %w", id, store.ErrNotFound)
	}
	return nil
}

// RevokeAgent marks an agent revoked.
func (s *Store) RevokeAgent(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, unixNano(at), id)
	return mustAffect(res, err, "revoking", id)
}

// Revoked lists revoked agents' IDs.
func (s *Store) Revoked(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM agents WHERE revoked_at != 0`)
	if err != nil {
		return nil, fmt.Errorf("listing revoked agents: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("listing revoked agents: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing revoked agents: %w", err)
	}
	return out, nil
}

// SetAgentCert records a renewed certificate's serial.
func (s *Store) SetAgentCert(ctx context.Context, id, serial string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE agents SET cert_serial = ? WHERE id = ?`, serial, id)
	return mustAffect(res, err, "recording the certificate of", id)
}

// ApproveAgent clears an agent's pending state.
func (s *Store) ApproveAgent(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE agents SET pending = 0 WHERE id = ? AND pending != 0`, id)
	return mustAffect(res, err, "approving", id)
}

package auditmark

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sondehq/sonde/collector/store"
)

// Chain is what a check reads of the audit log; store.Store has it.
type Chain interface {
	AuditHead(ctx context.Context) (id int64, hash []byte, err error)
	AuditHash(ctx context.Context, id int64) ([]byte, error)
}

var _ Chain = store.Store(nil)

// Errors of a failed check, for errors.Is.
var (
	ErrTruncated = errors.New("audit log TRUNCATED")
	ErrChanged   = errors.New("audit log TAMPERED")
)

// Status is what a check found.
type Status struct {
	EntryID int64 // the entry checked
	HeadID  int64 // the newest entry now (0: the log is empty)
	// Truncated: entry EntryID is gone. Changed: it is there with another
	// hash (rewritten, or its ID reused after the rows were deleted).
	Truncated, Changed bool
	// Unhashed: the anchor had no hash, so only the entry's presence was
	// checked.
	Unhashed bool
}

// OK reports whether the chain still holds the entry as anchored.
func (s Status) OK() bool { return !s.Truncated && !s.Changed }

// Err returns nil when s is OK, else an error wrapping ErrTruncated or
// ErrChanged that says what is wrong; what names the anchor, e.g. a
// Checkpoint's String.
func (s Status) Err(what string) error {
	switch {
	case s.Truncated && s.HeadID == 0:
		return fmt.Errorf("%w: %s, but the log is now empty", ErrTruncated, what)
	case s.Truncated && s.HeadID < s.EntryID:
		return fmt.Errorf("%w: %s, but the log now ends at entry %d", ErrTruncated, what, s.HeadID)
	case s.Truncated:
		return fmt.Errorf("%w: %s, but entry %d is gone (the log now ends at entry %d)", ErrTruncated, what, s.EntryID, s.HeadID)
	case s.Changed:
		return fmt.Errorf("%w: entry %d's hash differs from the %s: rows up to it were changed, or deleted and their IDs used again; the log now ends at entry %d",
			ErrChanged, s.EntryID, what, s.HeadID)
	}
	return nil
}

// Check tells whether the chain still holds entry id with hash (any hash
// when hash is nil). Together with an intact chain (store.AuditLog), a
// good check means entries 1..id are what they were when anchored.
func Check(ctx context.Context, ch Chain, id int64, hash []byte) (Status, error) {
	s := Status{EntryID: id, Unhashed: hash == nil}
	head, _, err := ch.AuditHead(ctx)
	if err != nil {
		return s, fmt.Errorf("checking audit entry %d: %w", id, err)
	}
	s.HeadID = head
	got, err := ch.AuditHash(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Truncated = true
	case err != nil:
		return s, fmt.Errorf("checking audit entry %d: %w", id, err)
	case hash != nil && !bytes.Equal(got, hash):
		s.Changed = true
	}
	return s, nil
}

package sqlite_test

import (
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store"
)

// TestAuditHeadAndTruncation: after someone with the database file drops
// the append-only trigger and deletes the newest rows, what is left still
// chains, but a checkpoint of the old head shows the cut.
func TestAuditHeadAndTruncation(t *testing.T) {
	ctx := t.Context()
	s, path := newStore(t)
	if id, h, err := s.AuditHead(ctx); id != 0 || h != nil || err != nil {
		t.Fatalf("empty log's head: %d %x %v", id, h, err)
	}
	if _, err := s.AuditHash(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no entry 1: %v", err)
	}
	for i := range 10 {
		if err := s.Audit(ctx, store.AuditEntry{Actor: "local:alice", Action: "test", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, broken, err := s.AuditLog(ctx, 100)
	if err != nil || broken != 0 || len(entries) != 10 {
		t.Fatalf("log: %d entries, broken %d, %v", len(entries), broken, err)
	}
	id, head, err := s.AuditHead(ctx)
	if err != nil || id != 10 || fmt.Sprintf("%x", head) != entries[0].Hash {
		t.Fatalf("head: %d %x %v; newest entry %d %s", id, head, err, entries[0].ID, entries[0].Hash)
	}
	h4, err := s.AuditHash(ctx, 4)
	if err != nil || fmt.Sprintf("%x", h4) != entries[10-4].Hash {
		t.Fatalf("entry 4's hash: %x %v", h4, err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	c := auditmark.Make(key, id, head, time.Now())
	if st, err := auditmark.Check(ctx, s, c.EntryID, c.HashBytes()); err != nil || !st.OK() {
		t.Fatalf("check before: %+v %v", st, err)
	}
	s.Close()

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE id >= 8`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("deleting with the trigger in place: %v", err)
	}
	for _, q := range []string{`DROP TRIGGER audit_append_only_delete`, `DELETE FROM audit WHERE id >= 8`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = open(t, path)
	if _, broken, err := s.AuditLog(ctx, 100); err != nil || broken != 0 {
		t.Fatalf("the shortened chain: broken %d, %v (the chain alone cannot see a cut at the head)", broken, err)
	}
	if id, _, err := s.AuditHead(ctx); id != 7 || err != nil {
		t.Fatalf("head after the cut: %d %v", id, err)
	}
	st, err := auditmark.Check(ctx, s, c.EntryID, c.HashBytes())
	if err != nil || st.OK() || !st.Truncated || st.HeadID != 7 {
		t.Fatalf("check after the cut: %+v %v", st, err)
	}
	msg := st.Err(c.String())
	if !errors.Is(msg, auditmark.ErrTruncated) || !strings.Contains(msg.Error(), "audit log TRUNCATED: checkpoint at entry 10 (") ||
		!strings.HasSuffix(msg.Error(), "the log now ends at entry 7") {
		t.Fatalf("message: %v", msg)
	}
	// An anchor below the cut holds.
	if st, err := auditmark.Check(ctx, s, 4, h4); err != nil || !st.OK() {
		t.Fatalf("entry 5: %+v %v", st, err)
	}
}

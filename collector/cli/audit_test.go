package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// TestAuditVerifySinceCheckpoint runs `sonde audit --verify
// --since-checkpoint` against a real collector API and store: it passes
// while the log only grows, and fails with a clear message once the
// newest rows are deleted behind the triggers' back.
func TestAuditVerifySinceCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "sonde.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "adm", Name: "adm", Role: store.RoleAdmin, CreatedAt: time.Now()}, api.HashKey("sonde_test_admin")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := st.Audit(ctx, store.AuditEntry{Actor: "local:alice", Action: "test", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := auditmark.Open(ctx, dir, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	a := &api.API{Store: st, Bundles: api.Bundler{Dir: t.TempDir(), Key: key}, Checkpoints: k.File()}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c, err := NewClient(srv.URL, "sonde_test_admin")
	if err != nil {
		t.Fatal(err)
	}
	audit := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		err := auditCmd(ctx, c, args, io.Discard, &stderr)
		return stderr.String(), err
	}

	if _, err := audit("--verify", "--since-checkpoint"); err == nil || !strings.Contains(err.Error(), "no audit checkpoint") {
		t.Fatalf("without a checkpoint: %v", err)
	}
	if err := k.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := k.File().Latest()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := audit("--verify", "--since-checkpoint", "--checkpoint-key", cp.KeyID); err != nil ||
		!strings.Contains(out, fmt.Sprintf("it holds the signed checkpoint at entry %d", cp.EntryID)) {
		t.Fatalf("intact: %v\n%s", err, out)
	}
	if _, err := audit("--verify", "--since-checkpoint", "--checkpoint-key", "0123456789abcdef"); err == nil || !strings.Contains(err.Error(), "not 0123456789abcdef") {
		t.Fatalf("another key pinned: %v", err)
	}
	// An anchor from the collector's log, right and wrong.
	if out, err := audit("--verify", "--checkpoint", fmt.Sprintf("%d:%s", cp.EntryID, cp.Hash)); err != nil || !strings.Contains(out, "holds the anchor") {
		t.Fatalf("anchor: %v\n%s", err, out)
	}
	wrong := strings.Repeat("0", 64)
	if _, err := audit("--verify", "--checkpoint", fmt.Sprintf("3:%s", wrong)); !errors.Is(err, auditmark.ErrChanged) ||
		!strings.Contains(err.Error(), "entry 3's hash differs from the anchor at entry 3") {
		t.Fatalf("a wrong anchor: %v", err)
	}

	// The newest rows deleted behind the triggers' back.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_append_only_delete`, `DELETE FROM audit WHERE id >= 4`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	// The hash chain alone still verifies...
	out, err := audit("--verify")
	if err != nil || !strings.Contains(out, "warning: audit log TRUNCATED") {
		t.Fatalf("--verify alone: %v\n%s", err, out)
	}
	// ...the checkpoint does not. (The read above is on the record: the
	// log now ends at entry 4 or 5, still short of the checkpoint's.)
	_, err = audit("--verify", "--since-checkpoint")
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("audit log TRUNCATED: checkpoint at entry %d (", cp.EntryID)) ||
		!strings.Contains(err.Error(), "the log now ends at entry") {
		t.Fatalf("--since-checkpoint: %v", err)
	}
	if _, err := audit("--checkpoint", fmt.Sprintf("%d", cp.EntryID+100)); !errors.Is(err, auditmark.ErrTruncated) {
		t.Fatalf("an anchor past the head: %v", err)
	}

	// A checkpoint with a bad signature is refused.
	bad := cp
	bad.EntryID = 1
	if err := auditmark.Append(k.File().Path, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := audit("--verify", "--since-checkpoint"); !errors.Is(err, auditmark.ErrSignature) {
		t.Fatalf("a bad signature: %v", err)
	}
}

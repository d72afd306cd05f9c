package auditmark_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// chain opens a store in dir with n audit entries.
func chain(t *testing.T, dir string, n int) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	audit(t, st, n)
	return st
}

func audit(t *testing.T, st store.Store, n int) {
	t.Helper()
	for i := range n {
		if err := st.Audit(context.Background(), store.AuditEntry{Actor: "local:alice", Action: "test", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// truncate does what someone with the database file can: drop the
// trigger that keeps the log append-only and delete the newest rows.
func truncate(t *testing.T, dir string, fromID int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sonde.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_append_only_delete`, fmt.Sprintf(`DELETE FROM audit WHERE id >= %d`, fromID)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func lines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestKeeper(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := chain(t, dir, 5)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	k, err := auditmark.Open(ctx, dir, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(k); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	if err := k.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, auditmark.FileName)
	c, err := k.File().Latest()
	if err != nil || c.EntryID != 5 {
		t.Fatalf("first checkpoint: %+v, %v", c, err)
	}
	if _, hash, _ := st.AuditHead(ctx); c.Hash != fmt.Sprintf("%x", hash) {
		t.Fatalf("checkpoint hash %s, head's %x", c.Hash, hash)
	}
	if !strings.Contains(logs.String(), "msg=\"audit checkpoint\" entry_id=5 hash="+c.Hash) {
		t.Errorf("not logged:\n%s", logs.String())
	}
	if err := k.Mark(ctx); err != nil || lines(t, path) != 1 {
		t.Fatalf("a second mark without new entries: %v, %d lines", err, lines(t, path))
	}

	// Entries appended after a checkpoint are no alarm.
	audit(t, st, 3)
	if err := k.Mark(ctx); err != nil || lines(t, path) != 2 {
		t.Fatalf("after new entries: %v, %d lines", err, lines(t, path))
	}
	if s, err := auditmark.Check(ctx, st, 5, c.HashBytes()); err != nil || !s.OK() || s.HeadID != 8 {
		t.Fatalf("the first checkpoint after appends: %+v, %v", s, err)
	}
	want := `
# HELP sonde_audit_checkpoint_entry_id Audit log entry ID of the latest signed checkpoint of the log's head.
# TYPE sonde_audit_checkpoint_entry_id gauge
sonde_audit_checkpoint_entry_id 8
# HELP sonde_audit_checkpoint_ok 1 while the audit log holds the latest checkpoint's entry with its hash; 0 once rows it covers are deleted or changed.
# TYPE sonde_audit_checkpoint_ok gauge
sonde_audit_checkpoint_ok 1
`
	if err := testutil.CollectAndCompare(k, strings.NewReader(want), "sonde_audit_checkpoint_entry_id", "sonde_audit_checkpoint_ok"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(k, "sonde_audit_checkpoint_timestamp_seconds"); n != 1 {
		t.Fatalf("%d timestamp series", n)
	}

	// The newest rows deleted: the next mark raises the alarm, once, and
	// writes no checkpoint of the shortened chain.
	truncate(t, dir, 7)
	err = k.Mark(ctx)
	if !errors.Is(err, auditmark.ErrTruncated) || !strings.Contains(err.Error(), "checkpoint at entry 8") ||
		!strings.Contains(err.Error(), "the log now ends at entry 6") {
		t.Fatalf("after truncation: %v", err)
	}
	if err := k.Mark(ctx); !errors.Is(err, auditmark.ErrTruncated) || lines(t, path) != 2 {
		t.Fatalf("marking on: %v, %d lines", err, lines(t, path))
	}
	if n := strings.Count(logs.String(), "level=ERROR msg=\"audit log TRUNCATED"); n != 1 {
		t.Errorf("%d alarms logged:\n%s", n, logs.String())
	}
	if err := testutil.CollectAndCompare(k, strings.NewReader(strings.Replace(want, "_ok 1\n", "_ok 0\n", 1)),
		"sonde_audit_checkpoint_entry_id", "sonde_audit_checkpoint_ok"); err != nil {
		t.Fatal(err)
	}

	// A restarted collector finds it too, and keeps the evidence.
	logs.Reset()
	k2, err := auditmark.Open(ctx, dir, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"audit log TRUNCATED: checkpoint at entry 8") {
		t.Errorf("restart did not raise the alarm:\n%s", logs.String())
	}
	audit(t, st, 5) // IDs 7.. come again, with other hashes
	if err := k2.Mark(ctx); !errors.Is(err, auditmark.ErrChanged) || !strings.Contains(err.Error(), "entry 8's hash differs from the checkpoint") {
		t.Fatalf("entry 8 again, another hash: %v", err)
	}
	if lines(t, path) != 2 {
		t.Fatalf("%d lines", lines(t, path))
	}
}

// TestKeeperRefusesForeignCheckpoint: a checkpoint signed with another key
// is logged, not trusted, and the keeper writes its own.
func TestKeeperRefusesForeignCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := chain(t, dir, 3)
	_, other, _ := ed25519.GenerateKey(nil)
	if err := auditmark.Append(filepath.Join(dir, auditmark.FileName), auditmark.Make(other, 99, make([]byte, 32), time.Now())); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	k, err := auditmark.Open(ctx, dir, st, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "signature refused") {
		t.Errorf("not logged:\n%s", logs.String())
	}
	if _, err := k.File().Latest(); !errors.Is(err, auditmark.ErrSignature) {
		t.Fatalf("foreign checkpoint: %v", err)
	}
	if err := k.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := k.File().Latest(); err != nil || c.EntryID != 3 {
		t.Fatalf("own checkpoint: %+v, %v", c, err)
	}
}

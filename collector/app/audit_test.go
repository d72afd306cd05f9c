package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// TestAuditVerifyLocal runs `sonde-collector audit verify` on a data dir:
// it reads the database and the checkpoint file directly.
func TestAuditVerifyLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		if err := run(ctx, []string{"apikey", "create", name, "--role", "l2", "--data", dir}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"audit", "verify", "--data", dir}, args...), &out, io.Discard)
		return out.String(), err
	}
	if _, err := verify(); err == nil || !strings.Contains(err.Error(), "no audit checkpoint") {
		t.Fatalf("without a checkpoint: %v", err)
	}

	// What serve does every minute.
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := auditmark.Open(ctx, dir, st, slog.New(slog.DiscardHandler))
	if err == nil {
		err = k.Mark(ctx)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := k.File().Latest()
	if err != nil || cp.EntryID != 4 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	if out, err := verify("--checkpoint", "2"); err != nil || !strings.Contains(out, "checkpoint at entry 4") || !strings.HasSuffix(out, "audit log verified\n") {
		t.Fatalf("intact: %v\n%s", err, out)
	}
	if err := run(ctx, []string{"apikey", "create", "erin", "--role", "l2", "--data", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("--checkpoint", fmt.Sprintf("%d:%s", cp.EntryID, cp.Hash)); err != nil {
		t.Fatalf("an entry appended since: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sonde.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_append_only_delete`, `DELETE FROM audit WHERE id >= 3`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	_, err = verify()
	if !errors.Is(err, auditmark.ErrTruncated) || !strings.HasPrefix(err.Error(), "audit log TRUNCATED: checkpoint at entry 4 (") ||
		!strings.HasSuffix(err.Error(), "but the log now ends at entry 2") {
		t.Fatalf("truncated: %v", err)
	}

	// Without the key file, the checkpoint is checked with the key it
	// carries, and the truncation still shows.
	if err := os.Remove(filepath.Join(dir, auditmark.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(); !errors.Is(err, auditmark.ErrTruncated) {
		t.Fatalf("without the key file: %v", err)
	}
}

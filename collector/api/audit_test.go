package api_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
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

// TestAuditCheckpoint: GET /api/v1/audit says whether the log still holds
// its latest signed checkpoint. Entries appended since are no alarm; the
// newest rows deleted behind the triggers' back are; so is a checkpoint
// signed with another key.
func TestAuditCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
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
	h := a.Handler()
	do := func(query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/audit?limit=3"+query, nil)
		req.Header.Set("Authorization", "Bearer sonde_test_admin")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	get := func(query string) api.AuditView {
		t.Helper()
		rec := do(query)
		var v api.AuditView
		if err := json.Unmarshal(rec.Body.Bytes(), &v); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("HTTP %d %s (%v)", rec.Code, rec.Body, err)
		}
		return v
	}

	if v := get(""); v.Checkpoint != nil || v.CheckpointOK || !strings.Contains(v.CheckpointProblem, "no audit checkpoint") {
		t.Fatalf("before the first checkpoint: %+v", v)
	}
	head, _, _ := st.AuditHead(ctx) // the read above is on the record too
	if err := k.Mark(ctx); err != nil {
		t.Fatal(err)
	}
	v := get("")
	if !v.Intact || !v.CheckpointOK || v.Truncated || v.Checkpoint == nil || v.Checkpoint.EntryID != head || v.HeadID < head {
		t.Fatalf("after a checkpoint: %+v", v)
	}
	if err := v.Checkpoint.Verify(k.File().Key); err != nil {
		t.Fatal(err)
	}
	// Reads of the log are audited: the log grew past the checkpoint.
	if v := get("&anchor=2"); !v.CheckpointOK || v.HeadID <= head || v.AnchorID != 2 || len(v.AnchorHash) != 64 {
		t.Fatalf("entries after the checkpoint: %+v", v)
	}
	if v := get("&anchor=999"); v.AnchorID != 999 || v.AnchorHash != "" {
		t.Fatalf("an anchor past the head: %+v", v)
	}
	if rec := do("&anchor=x"); rec.Code != http.StatusBadRequest {
		t.Fatalf("a bad anchor: HTTP %d", rec.Code)
	}

	dropNewest(t, filepath.Join(dir, "sonde.db"), 3)
	v = get("")
	if !v.Intact || v.CheckpointOK || !v.Truncated || !strings.HasPrefix(v.CheckpointProblem, fmt.Sprintf("audit log TRUNCATED: checkpoint at entry %d (", head)) {
		t.Fatalf("after the newest rows were deleted: %+v", v)
	}

	// A checkpoint signed with another key is shown and refused.
	_, other, _ := ed25519.GenerateKey(nil)
	if err := auditmark.Append(k.File().Path, auditmark.Make(other, 1, make([]byte, 32), time.Now())); err != nil {
		t.Fatal(err)
	}
	v = get("")
	if v.CheckpointOK || v.Checkpoint == nil || v.Checkpoint.EntryID != 1 || !strings.Contains(v.CheckpointProblem, "signature refused") {
		t.Fatalf("a foreign checkpoint: %+v", v)
	}
}

// dropNewest does what someone with the database file can: drop the
// trigger that keeps the audit log append-only and delete its newest rows.
func dropNewest(t *testing.T, path string, fromID int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
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

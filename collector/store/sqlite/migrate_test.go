package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// testdata/schema.golden is the schema the collector leaves, whatever
// version it starts from: every table with its columns, every index,
// every trigger. A migration that changes it changes the file, in review:
//
//	go test ./collector/store/sqlite -run TestMigrations -update
var update = flag.Bool("update", false, "rewrite testdata/schema.golden")

const schemaGolden = "testdata/schema.golden"

// seedRow is a row as a collector at schema version since wrote it, in the
// columns that version had.
type seedRow struct {
	since int
	table string
	cols  []string
	vals  []any
}

var (
	seedFar   = base.Add(365 * 24 * time.Hour)
	seedNS    = func(t time.Time) int64 { return t.UnixNano() }
	seedAudit = sqlite.AuditChain(nil, &store.AuditEntry{At: base, Actor: "local:root", Action: "apikey.create", Target: "alice", Detail: "role l2"})
	seeded    = []seedRow{
		{1, "tokens", []string{"hash", "created_at", "expires_at", "uses_left", "created_by"},
			[]any{hash("token-1"), seedNS(base), seedNS(seedFar), 1, "local:root"}},
		{1, "agents", []string{"id", "hostname", "facts", "agent_version", "probes", "enrolled_at", "last_seen"},
			[]any{"agent-old", "web-1", `{"hostname":"web-1","os":"linux","cpus":4}`, "0.0.9", `["cpu","memory"]`, seedNS(base), seedNS(base.Add(time.Hour))}},
		{1, "api_keys", []string{"id", "hash", "name", "role", "created_at"},
			[]any{"key-1", hash("secret"), "alice", "l2", seedNS(base)}},
		// Probe results as the first collectors kept them: plain JSON.
		{1, "snapshots", []string{"id", "agent_id", "boot_epoch", "seq", "kind", "request_id", "captured_at", "received_at", "probes"},
			[]any{7, "agent-old", 1, 42, "full", "rq-1", seedNS(base), seedNS(base.Add(time.Second)), `[{"name":"memory","duration_ms":0.25,"data":{"total":1}}]`}},
		{2, "tickets", []string{"ref", "title", "agents", "tier", "assignee", "status", "created_by", "created_at", "updated_at", "escalations", "reopened"},
			[]any{"T-1", "VPN drops", `["agent-old"]`, "l2", "bob", "in_progress", "alice", seedNS(base), seedNS(base.Add(time.Minute)), 1, 0}},
		{2, "ticket_agents", []string{"ref", "agent_id"}, []any{"T-1", "agent-old"}},
		{2, "ticket_events", []string{"id", "ref", "at", "actor", "kind", "text"},
			[]any{1, "T-1", seedNS(base), "alice", "opened", "VPN drops"}},
		{3, "bundles", []string{"id", "ticket_ref", "agent_id", "snapshot_id", "fresh", "note", "sha256", "size", "findings", "created_at", "created_by", "path", "pseudonyms"},
			[]any{3, "T-1", "agent-old", 7, 1, "before", strings.Repeat("ab", 32), 1234, `["dns-none"]`, seedNS(base), "bob", "bundles/3.tar.gz", `{}`}},
		{4, "bundles", []string{"id", "ticket_ref", "agent_id", "snapshot_id", "fresh", "sha256", "size", "created_at", "created_by", "path", "kind"},
			[]any{4, "T-1", "agent-old", 7, 0, strings.Repeat("cd", 32), 99, seedNS(base), "bob", "bundles/4.tar.gz", "handover"}},
		{5, "tokens", []string{"hash", "created_at", "expires_at", "uses_left", "created_by", "scope"},
			[]any{hash("token-scoped"), seedNS(base), seedNS(seedFar), 2, "local:root", "site-a"}},
		{5, "agents", []string{"id", "hostname", "facts", "enrolled_at", "scope", "revoked_at"},
			[]any{"agent-revoked", "lost-laptop", `{"hostname":"lost-laptop"}`, seedNS(base), "site-a", seedNS(base.Add(time.Hour))}},
		{6, "audit", []string{"id", "at", "actor", "action", "target", "detail", "hash"},
			[]any{1, seedNS(base), "local:root", "apikey.create", "alice", "role l2", seedAudit}},
		{7, "alert_state", []string{"fingerprint", "data"}, []any{"fp-1", `{"fingerprint":"fp-1","rule":"disk-full","agent_id":"agent-old","state":"firing"}`}},
		{7, "silences", []string{"id", "ends_at", "data"},
			[]any{"sil-1", seedNS(seedFar), `{"id":"sil-1","matchers":[{"name":"agent_id","value":"agent-old"}],"ends_at":"` + seedFar.Format(time.RFC3339Nano) + `","created_by":"bob"}`}},
		{8, "snapshots", []string{"id", "agent_id", "boot_epoch", "seq", "kind", "captured_at", "received_at", "probes", "trigger_name"},
			[]any{8, "agent-old", 1, 43, "full", seedNS(base.Add(time.Minute)), seedNS(base.Add(time.Minute)), `[]`, "no-default-route"}},
		{9, "agents", []string{"id", "hostname", "facts", "enrolled_at", "cert_serial", "pending"},
			[]any{"agent-pending", "new-box", `{"hostname":"new-box"}`, seedNS(base), "ab12", 1}},
		{10, "snapshots", []string{"id", "agent_id", "boot_epoch", "seq", "kind", "captured_at", "received_at", "probes", "agent_captured_at"},
			[]any{9, "agent-old", 1, 44, "health", seedNS(base.Add(2 * time.Minute)), seedNS(base.Add(2 * time.Minute)), `[]`, seedNS(base.Add(time.Hour))}},
	}
)

// oldDatabase writes a database as a collector at schema version v left
// it, with the rows such a collector could have written.
func oldDatabase(t *testing.T, v int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sonde.db")
	db := rawDB(t, path)
	for i, m := range sqlite.Migrations[:v] {
		if _, err := db.ExecContext(t.Context(), m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := db.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
	for _, r := range seeded {
		if r.since > v {
			continue
		}
		q := fmt.Sprintf("INSERT INTO %s(%s) VALUES (%s)", r.table, strings.Join(r.cols, ", "), strings.TrimSuffix(strings.Repeat("?,", len(r.cols)), ","))
		if _, err := db.ExecContext(t.Context(), q, r.vals...); err != nil {
			t.Fatalf("seeding %s at version %d: %v", r.table, v, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMigrations opens a database left at each older schema version, with
// rows in it: the schema it ends with is the golden one, the same as a
// new database's, and every row survives, readable through the store.
func TestMigrations(t *testing.T) {
	t.Parallel()
	latest := len(sqlite.Migrations)
	fresh, freshPath := newStore(t)
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaGolden, []byte(schemaOf(t, freshPath)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaGolden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	for v := 0; v <= latest; v++ {
		t.Run(fmt.Sprintf("from-version-%d", v), func(t *testing.T) {
			t.Parallel()
			path := oldDatabase(t, v)
			s := open(t, path)
			checkRows(t, s, path, v)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := schemaOf(t, path); got != string(want) {
				t.Errorf("the schema migrated from version %d differs from %s:\n%s", v, schemaGolden, lineDiff(got, string(want)))
			}
			if uv := userVersion(t, path); uv != latest {
				t.Errorf("user_version %d after migrating from %d, want %d", uv, v, latest)
			}
		})
	}
}

// checkRows checks that the rows seeded at version v are all there, and
// that the store reads them with the defaults of the columns added since.
func checkRows(t *testing.T, s *sqlite.Store, path string, v int) {
	t.Helper()
	ctx := t.Context()
	db := rawDB(t, path)
	for _, r := range seeded {
		if r.since > v {
			continue
		}
		var conds []string
		for _, c := range r.cols {
			conds = append(conds, c+" IS ?")
		}
		var n int
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", r.table, strings.Join(conds, " AND ")), r.vals...).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s row %v written at version %d: %d found after migrating, %v", r.table, r.vals[0], r.since, n, err)
		}
	}
	db.Close()
	if v < 1 {
		return
	}

	a, err := s.Agent(ctx, "agent-old")
	if err != nil || a.Facts.Hostname != "web-1" || a.Facts.CPUs != 4 || a.AgentVersion != "0.0.9" || !slices.Equal(a.Probes, []string{"cpu", "memory"}) ||
		!a.EnrolledAt.Equal(base) || !a.LastSeen.Equal(base.Add(time.Hour)) {
		t.Errorf("agent-old: %+v, %v", a, err)
	}
	if a.Scope != "" || !a.RevokedAt.IsZero() || a.CertSerial != "" || a.Pending {
		t.Errorf("agent-seedAudit has values it never had in the columns added since: %+v", a)
	}
	snap, err := s.Snapshot(ctx, 7)
	if err != nil || snap.AgentID != "agent-old" || snap.Seq != 42 || snap.Kind != "full" || snap.RequestID != "rq-1" || !snap.CapturedAt.Equal(base) ||
		len(snap.Probes) != 1 || snap.Probes[0].Name != "memory" || string(snap.Probes[0].Data) != `{"total":1}` || snap.Trigger != "" || !snap.AgentCapturedAt.IsZero() {
		t.Errorf("snapshot 7: %+v, %v", snap, err)
	}
	// Its identity still refuses a second copy, and new snapshots go in.
	if id, dup, err := s.PutSnapshot(ctx, snapshot("agent-old", 1, 42, "full", base)); err != nil || !dup || id != 7 {
		t.Errorf("snapshot 7 sent again: id %d, duplicate %v, %v; want 7, a duplicate", id, dup, err)
	}
	if _, dup, err := s.PutSnapshot(ctx, snapshot("agent-old", 2, 1, "health", base.Add(time.Hour))); err != nil || dup {
		t.Errorf("a new snapshot: duplicate %v, %v", dup, err)
	}
	if k, err := s.APIKeyByHash(ctx, hash("secret")); err != nil || k.ID != "key-1" || k.Name != "alice" || k.Role != "l2" {
		t.Errorf("API key: %+v, %v", k, err)
	}
	// The token has its one use left.
	if err := s.Enroll(ctx, hash("token-1"), base, store.Agent{ID: "agent-new", EnrolledAt: base}); err != nil {
		t.Errorf("enrolling with the seedAudit token: %v", err)
	}
	if err := s.Enroll(ctx, hash("token-1"), base, store.Agent{ID: "agent-new-2", EnrolledAt: base}); !errors.Is(err, store.ErrTokenInvalid) {
		t.Errorf("enrolling with the seedAudit token a second time: %v", err)
	}
	if v >= 2 {
		tk, err := s.Ticket(ctx, "T-1")
		if err != nil || tk.Title != "VPN drops" || tk.Status != "in_progress" || tk.Assignee != "bob" || tk.Escalations != 1 || !slices.Equal(tk.Agents, []string{"agent-old"}) {
			t.Errorf("ticket T-1: %+v, %v", tk, err)
		}
		evs, err := s.TicketEvents(ctx, "T-1")
		if err != nil || len(evs) != 1 || evs[0].Kind != "opened" {
			t.Errorf("ticket T-1's events: %+v, %v", evs, err)
		}
	}
	if v >= 3 {
		b, err := s.Bundle(ctx, 3)
		if err != nil || b.Kind != "bundle" || b.SnapshotID != 7 || !b.Fresh || b.Size != 1234 || !slices.Equal(b.Findings, []string{"dns-none"}) {
			t.Errorf("bundle 3: %+v, %v", b, err)
		}
	}
	if v >= 4 {
		if b, err := s.Bundle(ctx, 4); err != nil || b.Kind != "handover" || b.Fresh || len(b.Findings) != 0 {
			t.Errorf("bundle 4: %+v, %v", b, err)
		}
	}
	if v >= 5 {
		a, err := s.Agent(ctx, "agent-revoked")
		if err != nil || a.Scope != "site-a" || !a.RevokedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("agent-revoked: %+v, %v", a, err)
		}
		if ids, err := s.Revoked(ctx); err != nil || !slices.Equal(ids, []string{"agent-revoked"}) {
			t.Errorf("revoked agents: %v, %v", ids, err)
		}
		toks, err := s.Tokens(ctx, base)
		if err != nil || !slices.ContainsFunc(toks, func(tk store.Token) bool { return tk.Scope == "site-a" && tk.Uses == 2 }) {
			t.Errorf("tokens: %+v, %v", toks, err)
		}
	}
	if v >= 6 {
		log, broken, err := s.AuditLog(ctx, 10)
		if err != nil || broken != 0 || len(log) != 1 || log[0].Action != "apikey.create" {
			t.Errorf("audit log: %+v, broken at %d, %v", log, broken, err)
		}
	}
	if v >= 7 {
		if as, err := s.AlertState(ctx); err != nil || len(as) != 1 || as[0].Fingerprint != "fp-1" || as[0].Rule != "disk-full" {
			t.Errorf("alert state: %+v, %v", as, err)
		}
		if sl, err := s.Silences(ctx, base); err != nil || len(sl) != 1 || sl[0].ID != "sil-1" {
			t.Errorf("silences: %+v, %v", sl, err)
		}
	}
	if v >= 8 {
		if snap, err := s.Snapshot(ctx, 8); err != nil || snap.Trigger != "no-default-route" {
			t.Errorf("snapshot 8: %+v, %v", snap, err)
		}
	}
	if v >= 9 {
		if a, err := s.Agent(ctx, "agent-pending"); err != nil || !a.Pending || a.CertSerial != "ab12" {
			t.Errorf("agent-pending: %+v, %v", a, err)
		}
	}
	if v >= 10 {
		if snap, err := s.Snapshot(ctx, 9); err != nil || !snap.AgentCapturedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("snapshot 9: %+v, %v", snap, err)
		}
	}
}

// schemaOf describes the schema of the database at path: user_version,
// then every table with its columns, indexes and triggers, in name order.
func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	ctx := t.Context()
	var b strings.Builder
	var uv int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&uv); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "user_version %d\n", uv)
	type object struct{ typ, name, table, sql string }
	var objs []object
	rs, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY tbl_name, type = 'table' DESC, type, name`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var o object
		if err := rs.Scan(&o.typ, &o.name, &o.table, &o.sql); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	rs.Close()
	space := regexp.MustCompile(`\s+`)
	for _, o := range objs {
		switch o.typ {
		case "table":
			fmt.Fprintf(&b, "\ntable %s\n  %s\n", o.name, space.ReplaceAllString(o.sql, " "))
			cols := query(t, db, fmt.Sprintf("SELECT name, type, \"notnull\", coalesce(dflt_value, 'NULL'), pk FROM pragma_table_xinfo('%s') ORDER BY cid", o.name))
			for _, c := range cols {
				fmt.Fprintf(&b, "  column %s %s notnull=%s default=%s pk=%s\n", c[0], c[1], c[2], c[3], c[4])
			}
		case "index":
			cols := query(t, db, fmt.Sprintf("SELECT name FROM pragma_index_info('%s') ORDER BY seqno", o.name))
			var names []string
			for _, c := range cols {
				names = append(names, c[0])
			}
			fmt.Fprintf(&b, "  index %s (%s)", o.name, strings.Join(names, ", "))
			if o.sql != "" {
				fmt.Fprintf(&b, ": %s", space.ReplaceAllString(o.sql, " "))
			}
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "  %s %s: %s\n", o.typ, o.name, space.ReplaceAllString(o.sql, " "))
		}
	}
	return b.String()
}

// query returns every row of q as strings.
func query(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rs, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out
}

// lineDiff lists the lines only one of got and want has.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b bytes.Buffer
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	if b.Len() == 0 {
		return "(same lines, in another order)"
	}
	return b.String()
}

// TestOpenRefusesNewerSchema: a database a newer collector migrated is
// refused with an error that says so and what to do, and left as it was;
// one at this collector's version opens.
func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	latest := len(sqlite.Migrations)
	path := oldDatabase(t, latest)
	if s, err := sqlite.Open(ctx, path); err != nil {
		t.Fatalf("a database at this collector's version %d: %v", latest, err)
	} else {
		s.Close()
	}
	db := rawDB(t, path)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", latest+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := schemaOf(t, path)
	s, err := sqlite.Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
	want := fmt.Sprintf("database schema version %d is newer than this collector (%d): upgrade the collector", latest+1, latest)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("refusal %q does not name the database and say %q", err, want)
	}
	if after := schemaOf(t, path); after != before {
		t.Errorf("refusing the database changed it:\n%s", lineDiff(after, before))
	}
}

// TestMigrationFailureRollsBack: a migration that fails leaves the
// database at the version before it, with the error naming the version.
func TestMigrationFailureRollsBack(t *testing.T) {
	t.Parallel()
	path := oldDatabase(t, 1)
	db := rawDB(t, path)
	// Something in the way of migration 2: a table by the name it creates.
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE ticket_events (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("opened a database whose migration failed")
	}
	if !strings.Contains(err.Error(), "migrating schema to version 2") {
		t.Errorf("error %q does not name the migration", err)
	}
	if v := userVersion(t, path); v != 1 {
		t.Errorf("user_version %d after a failed migration to 2, want 1", v)
	}
	db = rawDB(t, path)
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM sqlite_master WHERE name = 'tickets'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the failed migration left %d tickets tables, %v", n, err)
	}
}

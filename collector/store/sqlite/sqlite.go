// Package sqlite is the embedded store: one SQLite file in the data dir, in
// WAL mode, with synchronous=FULL so that a commit the collector acks
// survives a power cut. Writes go through one connection; reads use a pool.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// Store is the SQLite store.
type Store struct {
	w    *sql.DB // the single writer
	r    *sql.DB // readers
	path string
	tuning

	puts     chan *putRequest // snapshots for the group committer
	writes   writeStmts       // its statements
	seen     lastSeen         // last-seen times it has not saved yet
	walLong  atomic.Bool      // set for it to finish a checkpoint
	stop     chan struct{}
	written  chan struct{} // closed when the group committer is done
	closeErr error         // its last flushSeen's, read after written

	checkpointed chan struct{} // closed when checkpointWAL is done
	closeOnce    sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(ctx context.Context, path string) (*Store, error) {
	return openStore(ctx, path, tuning{seenEvery: seenFlushEvery, checkpointEvery: checkpointEvery, walRestartPages: walRestartPages})
}

// tuning is how often the store does its background work (lastseen.go,
// checkpoint.go); tests shorten it.
type tuning struct {
	seenEvery, checkpointEvery time.Duration
	walRestartPages            int
}

func openStore(ctx context.Context, path string, tune tuning) (*Store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" +
		"_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	// The writer leaves checkpoints to checkpointWAL.
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	s := &Store{w: w, r: r, path: path, tuning: tune, puts: make(chan *putRequest), seen: lastSeen{noted: make(chan struct{}, 1)},
		stop: make(chan struct{}), written: make(chan struct{}), checkpointed: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("opening %s: %w", path, err), r.Close(), w.Close())
	}
	if s.writes, err = prepareWrites(ctx, w); err != nil {
		return nil, errors.Join(fmt.Errorf("opening %s: %w", path, err), r.Close(), w.Close())
	}
	go s.writeSnapshots()
	go s.checkpointWAL()
	return s, nil
}

// migrations[i] brings the schema from user_version i to i+1.
var migrations = []string{`
CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	uses_left  INTEGER NOT NULL,
	created_by TEXT NOT NULL
);
CREATE TABLE agents (
	id            TEXT PRIMARY KEY,
	hostname      TEXT NOT NULL,
	facts         TEXT NOT NULL,
	agent_version TEXT NOT NULL DEFAULT '',
	probes        TEXT NOT NULL DEFAULT '[]',
	enrolled_at   INTEGER NOT NULL,
	last_seen     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agents_hostname ON agents(hostname);
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE snapshots (
	id          INTEGER PRIMARY KEY,
	agent_id    TEXT NOT NULL REFERENCES agents(id),
	boot_epoch  INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	captured_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	probes      BLOB NOT NULL,
	UNIQUE (agent_id, boot_epoch, seq)
);
CREATE INDEX snapshots_agent_time ON snapshots(agent_id, captured_at);
`, `
CREATE TABLE tickets (
	ref         TEXT PRIMARY KEY,
	title       TEXT NOT NULL,
	agents      TEXT NOT NULL DEFAULT '[]',
	tier        TEXT NOT NULL,
	assignee    TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	escalations INTEGER NOT NULL DEFAULT 0,
	reopened    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_status ON tickets(status, updated_at);
CREATE TABLE ticket_agents (
	ref      TEXT NOT NULL REFERENCES tickets(ref),
	agent_id TEXT NOT NULL,
	PRIMARY KEY (ref, agent_id)
);
CREATE INDEX ticket_agents_agent ON ticket_agents(agent_id);
CREATE TABLE ticket_events (
	id         INTEGER PRIMARY KEY,
	ref        TEXT NOT NULL REFERENCES tickets(ref),
	at         INTEGER NOT NULL,
	actor      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	text       TEXT NOT NULL DEFAULT '',
	from_value TEXT NOT NULL DEFAULT '',
	to_value   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ref ON ticket_events(ref, id);
`, `
CREATE TABLE bundles (
	id          INTEGER PRIMARY KEY,
	ticket_ref  TEXT NOT NULL REFERENCES tickets(ref),
	agent_id    TEXT NOT NULL,
	snapshot_id INTEGER NOT NULL,
	fresh       INTEGER NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	sha256      TEXT NOT NULL,
	size        INTEGER NOT NULL,
	findings    TEXT NOT NULL DEFAULT '[]',
	created_at  INTEGER NOT NULL,
	created_by  TEXT NOT NULL,
	path        TEXT NOT NULL,
	pseudonyms  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX bundles_ticket ON bundles(ticket_ref, id);
`, `
ALTER TABLE bundles ADD COLUMN kind TEXT NOT NULL DEFAULT 'bundle';
`, `
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
`, `
CREATE TABLE audit (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	hash   BLOB NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`, `
CREATE TABLE alert_state (
	fingerprint TEXT PRIMARY KEY,
	data        TEXT NOT NULL
);
CREATE TABLE silences (
	id      TEXT PRIMARY KEY,
	ends_at INTEGER NOT NULL,
	data    TEXT NOT NULL
);
`, `
ALTER TABLE snapshots ADD COLUMN trigger_name TEXT NOT NULL DEFAULT '';
`, `
ALTER TABLE agents ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
`, `
ALTER TABLE snapshots ADD COLUMN agent_captured_at INTEGER NOT NULL DEFAULT 0;
`, `
ALTER TABLE bundles ADD COLUMN evidence TEXT NOT NULL DEFAULT '';
ALTER TABLE ticket_events ADD COLUMN bundle_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ticket_events ADD COLUMN snapshot_id INTEGER NOT NULL DEFAULT 0;
`, `
ALTER TABLE tickets ADD COLUMN helpdesk TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN external TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN queue TEXT NOT NULL DEFAULT '';
CREATE INDEX tickets_external ON tickets(external) WHERE external != '';
CREATE TABLE deliveries (
	id         INTEGER PRIMARY KEY,
	ticket_ref TEXT NOT NULL REFERENCES tickets(ref),
	helpdesk   TEXT NOT NULL,
	external   TEXT NOT NULL,
	step       TEXT NOT NULL,
	bundle_id  INTEGER NOT NULL DEFAULT 0,
	marker     TEXT NOT NULL,
	state      TEXT NOT NULL DEFAULT 'pending',
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	sent_at    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (helpdesk, external, marker)
);
CREATE INDEX deliveries_due ON deliveries(helpdesk, state, next_at);
CREATE INDEX deliveries_ticket ON deliveries(ticket_ref, id);
`}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this collector (%d): upgrade the collector", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("setting schema version %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// Close closes the database; closing it again does nothing.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.written
		<-s.checkpointed
		err = errors.Join(s.closeErr, s.writes.close(), s.r.Close(), s.w.Close())
	})
	if err != nil {
		return fmt.Errorf("closing database %s: %w", s.path, err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(new(int)); err != nil {
		return fmt.Errorf("pinging the database: %w", err)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// CreateToken stores an enrollment token's hash.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens(hash, created_at, expires_at, uses_left, created_by, scope) VALUES (?,?,?,?,?,?)`,
		t.Hash, unixNano(t.CreatedAt), unixNano(t.ExpiresAt), t.Uses, t.CreatedBy, t.Scope)
	if err != nil {
		return fmt.Errorf("storing enrollment token: %w", err)
	}
	return nil
}

// Enroll consumes a token use and records the agent in one transaction.
func (s *Store) Enroll(ctx context.Context, tokenHash []byte, now time.Time, a store.Agent) error {
	facts, err := json.Marshal(a.Facts)
	if err != nil {
		return fmt.Errorf("enrolling agent %s: encoding facts: %w", a.ID, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("enrolling agent %s: %w", a.ID, err)
	}
	defer tx.Rollback()
	var scope string
	err = tx.QueryRowContext(ctx, `UPDATE tokens SET uses_left = uses_left - 1 WHERE hash = ? AND uses_left > 0 AND expires_at > ? RETURNING scope`,
		tokenHash, unixNano(now)).Scan(&scope)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrTokenInvalid
	}
	if err != nil {
		return fmt.Errorf("enrolling agent %s: using the token: %w", a.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO agents(id, hostname, facts, agent_version, enrolled_at, scope, cert_serial, pending) VALUES (?,?,?,?,?,?,?,?)`,
		a.ID, a.Facts.Hostname, facts, a.AgentVersion, unixNano(a.EnrolledAt), scope, a.CertSerial, a.Pending); err != nil {
		return fmt.Errorf("enrolling agent %s: %w", a.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("enrolling agent %s: %w", a.ID, err)
	}
	return nil
}

// CreateAPIKey stores an API key's hash.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey, hash []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_keys(id, hash, name, role, created_at) VALUES (?,?,?,?,?)`,
		k.ID, hash, k.Name, k.Role, unixNano(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("storing API key %q: %w", k.Name, err)
	}
	return nil
}

// APIKeyByHash finds the key with the given hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, role, created_at FROM api_keys WHERE hash = ?`, hash).
		Scan(&k.ID, &k.Name, &k.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, store.ErrNotFound
	}
	if err != nil {
		return k, fmt.Errorf("looking up API key: %w", err)
	}
	k.CreatedAt = fromNano(created)
	return k, nil
}

const agentColumns = `id, facts, agent_version, probes, enrolled_at, last_seen, scope, revoked_at, cert_serial, pending`

func scanAgent(sc interface{ Scan(...any) error }) (store.Agent, error) {
	var a store.Agent
	var facts, probes string
	var enrolled, seen, revoked int64
	if err := sc.Scan(&a.ID, &facts, &a.AgentVersion, &probes, &enrolled, &seen, &a.Scope, &revoked, &a.CertSerial, &a.Pending); err != nil {
		return a, err // the caller names the operation
	}
	if err := json.Unmarshal([]byte(facts), &a.Facts); err != nil {
		return a, fmt.Errorf("agent %s facts: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(probes), &a.Probes); err != nil {
		return a, fmt.Errorf("agent %s probes: %w", a.ID, err)
	}
	a.EnrolledAt, a.LastSeen, a.RevokedAt = fromNano(enrolled), fromNano(seen), fromNano(revoked)
	return a, nil
}

// Agents lists every enrolled agent, by hostname.
func (s *Store) Agents(ctx context.Context) ([]store.Agent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+agentColumns+` FROM agents ORDER BY hostname, id`)
	if err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	defer rows.Close()
	var out []store.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("listing agents: %w", err)
		}
		s.seen.overlay(&a)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	return out, nil
}

// Agent returns one agent.
func (s *Store) Agent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(s.r.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("agent %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("reading agent %s: %w", id, err)
	}
	s.seen.overlay(&a)
	return a, nil
}

// SeenAgent records the facts an agent sent in its hello. A hello that
// brings the facts, version and probes stored already (an agent back after
// a network change or a collector restart: nearly every hello) moves only
// last_seen, which is then held as a snapshot's is (see lastSeen) instead
// of written: in a reconnect storm, 10,000 hellos each waiting for the
// single writer took longer than a hello may, and agents were turned away
// (184 of 10,000 in one storm here, and reconnecting made it longer).
func (s *Store) SeenAgent(ctx context.Context, a store.Agent) error {
	facts, err := json.Marshal(a.Facts)
	if err != nil {
		return fmt.Errorf("recording agent %s: encoding facts: %w", a.ID, err)
	}
	probes, err := json.Marshal(a.Probes)
	if err != nil {
		return fmt.Errorf("recording agent %s: encoding probes: %w", a.ID, err)
	}
	var was struct{ hostname, facts, version, probes string }
	err = s.r.QueryRowContext(ctx, `SELECT hostname, facts, agent_version, probes FROM agents WHERE id = ?`, a.ID).
		Scan(&was.hostname, &was.facts, &was.version, &was.probes)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("agent %s: %w", a.ID, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("recording agent %s: %w", a.ID, err)
	case was.hostname == a.Facts.Hostname && was.facts == string(facts) && was.version == a.AgentVersion && was.probes == string(probes):
		s.seen.noteOutside(a.ID, unixNano(a.LastSeen))
		return nil
	}
	res, err := s.w.ExecContext(ctx, `UPDATE agents SET hostname = ?, facts = ?, agent_version = ?, probes = ?, last_seen = ? WHERE id = ?`,
		a.Facts.Hostname, facts, a.AgentVersion, probes, unixNano(a.LastSeen), a.ID)
	return mustAffect(res, err, "recording", a.ID)
}

// AddAgent records an agent unless one with its ID exists.
func (s *Store) AddAgent(ctx context.Context, a store.Agent) error {
	facts, err := json.Marshal(a.Facts)
	if err != nil {
		return fmt.Errorf("adding agent %s: encoding facts: %w", a.ID, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO agents(id, hostname, facts, agent_version, enrolled_at) VALUES (?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Facts.Hostname, facts, a.AgentVersion, unixNano(a.EnrolledAt))
	if err != nil {
		return fmt.Errorf("adding agent %s: %w", a.ID, err)
	}
	return nil
}

// mustAffect checks the result of an update of agent id, which the verb
// names ("revoking"): ErrNotFound when it changed no row.
func mustAffect(res sql.Result, err error, verb, id string) error {
	if err != nil {
		return fmt.Errorf("%s agent %s: %w", verb, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s agent %s: %w", verb, id, err)
	} else if n == 0 {
		return fmt.Errorf("agent %s: %w", id, store.ErrNotFound)
	}
	return nil
}

const snapshotColumns = `id, agent_id, boot_epoch, seq, kind, request_id, captured_at, received_at, trigger_name, agent_captured_at`

func scanSnapshot(sc interface{ Scan(...any) error }, probes *[]byte) (*store.Snapshot, error) {
	var s store.Snapshot
	var seq, captured, received, agentCaptured int64
	dest := []any{&s.ID, &s.AgentID, &s.BootEpoch, &seq, &s.Kind, &s.RequestID, &captured, &received, &s.Trigger, &agentCaptured}
	if probes != nil {
		dest = append(dest, probes)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err // the caller names the operation
	}
	s.Seq, s.CapturedAt, s.ReceivedAt = uint64(seq), fromNano(captured), fromNano(received)
	s.Imported, s.AgentCapturedAt = s.BootEpoch == protocol.ImportedEpoch, fromNano(agentCaptured)
	return &s, nil
}

// Snapshots lists an agent's snapshots, newest first (oldest first with
// f.Oldest), without probe data.
func (s *Store) Snapshots(ctx context.Context, agentID string, f store.SnapshotFilter) ([]store.Snapshot, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT ` + snapshotColumns + ` FROM snapshots WHERE agent_id = ?`
	args := []any{agentID}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if !f.Before.IsZero() {
		q += ` AND captured_at <= ?`
		args = append(args, unixNano(f.Before))
	}
	if !f.Since.IsZero() {
		q += ` AND captured_at >= ?`
		args = append(args, unixNano(f.Since))
	}
	if f.Faults {
		q += ` AND trigger_name != ''`
	}
	if f.Delivered {
		q += ` AND boot_epoch != ?`
		args = append(args, protocol.ImportedEpoch)
	}
	if f.Oldest {
		q += ` ORDER BY captured_at, id LIMIT ?`
	} else {
		q += ` ORDER BY captured_at DESC, id DESC LIMIT ?`
	}
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing snapshots of agent %s: %w", agentID, err)
	}
	defer rows.Close()
	out := []store.Snapshot{}
	for rows.Next() {
		snap, err := scanSnapshot(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("listing snapshots of agent %s: %w", agentID, err)
		}
		out = append(out, *snap)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing snapshots of agent %s: %w", agentID, err)
	}
	return out, nil
}

// Snapshot returns one snapshot with its probe results.
func (s *Store) Snapshot(ctx context.Context, id int64) (*store.Snapshot, error) {
	var probes []byte
	snap, err := scanSnapshot(s.r.QueryRowContext(ctx, `SELECT `+snapshotColumns+`, probes FROM snapshots WHERE id = ?`, id), &probes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("snapshot %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %d: %w", id, err)
	}
	if probes, err = decompress(probes); err != nil {
		return nil, fmt.Errorf("reading snapshot %d: %w", id, err)
	}
	if err := json.Unmarshal(probes, &snap.Probes); err != nil {
		return nil, fmt.Errorf("reading snapshot %d: decoding probe results: %w", id, err)
	}
	return snap, nil
}

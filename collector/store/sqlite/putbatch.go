package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// Snapshots arrive from many agents at once and each must be durable
// before its ack. One fsync per snapshot would cap ingest at a few hundred
// a second, so a single writer commits whatever is waiting in one
// transaction (group commit): one fsync for the lot. A row refused by a
// constraint fails alone (SQLite undoes just that statement); an I/O error
// or a full disk fails the commit, and then every snapshot of the batch.

// maxBatch bounds one group commit.
const maxBatch = 256

// errClosed is returned for a snapshot offered after Close.
var errClosed = errors.New("store closed")

type putRequest struct {
	snap   *store.Snapshot
	probes []byte // compressed
	done   chan putResult
}

type putResult struct {
	id  int64
	dup bool
	err error
}

// ImportSnapshot stores an imported snapshot, and the agent it is filed
// under unless that exists, in one transaction of its own: imports are
// rare, and a refused one must leave no agent.
func (s *Store) ImportSnapshot(ctx context.Context, agent store.Agent, snap *store.Snapshot) (int64, bool, error) {
	if snap.BootEpoch != protocol.ImportedEpoch || snap.AgentID != agent.ID {
		return 0, false, fmt.Errorf("importing snapshot %d of %s: not an import for agent %s", snap.Seq, snap.AgentID, agent.ID)
	}
	req, err := newPut(snap)
	if err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: %w", agent.ID, err)
	}
	facts, err := json.Marshal(agent.Facts)
	if err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: encoding facts: %w", agent.ID, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: %w", agent.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO agents(id, hostname, facts, agent_version, enrolled_at) VALUES (?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		agent.ID, agent.Facts.Hostname, facts, agent.AgentVersion, unixNano(agent.EnrolledAt)); err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: adding the agent: %w", agent.ID, err)
	}
	r := insertSnapshot(s.writes.in(tx), req)
	if r.err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: %w", agent.ID, r.err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("importing a snapshot of agent %s: %w", agent.ID, err)
	}
	return r.id, r.dup, nil
}

// newPut prepares a snapshot's probe results for the database: JSON
// (written into a reused buffer), deflated.
func newPut(snap *store.Snapshot) (*putRequest, error) {
	buf := jsonBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxJSONBuf {
			jsonBufs.Put(buf)
		}
	}()
	raw, err := appendProbes((*buf)[:0], snap.Probes)
	*buf = raw
	if err != nil {
		return nil, fmt.Errorf("encoding probe results: %w", err)
	}
	probes, err := compress(raw)
	if err != nil {
		return nil, err
	}
	return &putRequest{snap: snap, probes: probes, done: make(chan putResult, 1)}, nil
}

// jsonBufs holds buffers for newPut's JSON, which is deflated at once and
// not kept; one past maxJSONBuf (a snapshot of heavy probes) is left to the
// garbage collector.
var jsonBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxJSONBuf = 1 << 20

// PutSnapshot stores a snapshot once per (agent, boot epoch, seq), and
// moves the agent's last-seen time to when it was received, unless it was
// imported from a file. It returns only after the snapshot is committed
// (or was already stored), so
// the caller may ack it; on an error nothing may be acked, though the
// snapshot may have been stored, and a resend finds it as a duplicate.
func (s *Store) PutSnapshot(ctx context.Context, snap *store.Snapshot) (int64, bool, error) {
	req, err := newPut(snap)
	if err != nil {
		return 0, false, fmt.Errorf("storing snapshot %d of agent %s: %w", snap.Seq, snap.AgentID, err)
	}
	select {
	case s.puts <- req:
	case <-s.stop:
		return 0, false, fmt.Errorf("storing snapshot %d of agent %s: %w", snap.Seq, snap.AgentID, errClosed)
	case <-ctx.Done():
		return 0, false, fmt.Errorf("storing snapshot %d of agent %s: %w", snap.Seq, snap.AgentID, ctx.Err())
	}
	select {
	case r := <-req.done:
		if r.err != nil {
			return 0, false, fmt.Errorf("storing snapshot %d of agent %s: %w", snap.Seq, snap.AgentID, r.err)
		}
		return r.id, r.dup, nil
	case <-ctx.Done():
		return 0, false, fmt.Errorf("storing snapshot %d of agent %s: %w", snap.Seq, snap.AgentID, ctx.Err())
	}
}

// writeSnapshots commits waiting snapshots in batches until Close, and
// saves the last-seen times they brought within s.seenEvery and before
// it returns.
func (s *Store) writeSnapshots() {
	defer close(s.written)
	var flush <-chan time.Time // armed while last-seen times are held
	for {
		var batch []*putRequest
		select {
		case req := <-s.puts:
			batch = append(batch, req)
		case <-s.seen.noted:
			if flush == nil {
				flush = time.After(s.seenEvery)
			}
			continue
		case <-flush:
			flush = nil
			if s.flushSeen() != nil { // kept, and shown to readers: try again
				flush = time.After(s.seenEvery)
			}
			continue
		case <-s.stop:
			s.closeErr = s.flushSeen()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case req := <-s.puts:
				batch = append(batch, req)
			default:
				break more
			}
		}
		s.commitBatch(batch)
		s.finishCheckpoint()
		if flush == nil && s.seen.held() {
			flush = time.After(s.seenEvery)
		}
	}
}

// commitBatch stores batch in one transaction and answers each request.
func (s *Store) commitBatch(batch []*putRequest) {
	results := make([]putResult, len(batch))
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err == nil {
		st := s.writes.in(tx)
		for i, req := range batch {
			results[i] = insertSnapshot(st, req)
		}
		if err = tx.Commit(); err != nil {
			tx.Rollback()
		}
	}
	for i, req := range batch {
		if err != nil {
			results[i] = putResult{err: err}
		}
		if snap := req.snap; results[i].err == nil && snap.BootEpoch != protocol.ImportedEpoch {
			// A snapshot the agent sent is news of it (an imported file is
			// not): held for readers before the ack, saved by flushSeen.
			s.seen.note(snap.AgentID, unixNano(snap.ReceivedAt))
		}
		req.done <- results[i]
	}
}

// writeStmts are the group committer's statements, prepared once on the
// writer connection: SQLite parsed and planned each of them again for
// every snapshot (7 % of the collector's CPU under ingest, most of it in
// the SQL parser). seen is flushSeen's.
type writeStmts struct {
	insert, existing, seen *sql.Stmt
}

func prepareWrites(ctx context.Context, w *sql.DB) (writeStmts, error) {
	var st writeStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.insert, `INSERT INTO snapshots(agent_id, boot_epoch, seq, kind, request_id, captured_at, received_at, probes, trigger_name, agent_captured_at)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (agent_id, boot_epoch, seq) DO NOTHING`},
		{&st.existing, `SELECT id FROM snapshots WHERE agent_id = ? AND boot_epoch = ? AND seq = ?`},
		{&st.seen, `UPDATE agents SET last_seen = max(last_seen, ?) WHERE id = ?`},
	} {
		var err error
		if *p.stmt, err = w.PrepareContext(ctx, p.sql); err != nil {
			return st, errors.Join(fmt.Errorf("preparing the snapshot writes: %w", err), st.close())
		}
	}
	return st, nil
}

func (st writeStmts) close() error {
	var err error
	for _, s := range []*sql.Stmt{st.insert, st.existing, st.seen} {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	return err
}

// in returns the statements insertSnapshot uses bound to tx, which close
// with it.
func (st writeStmts) in(tx *sql.Tx) writeStmts {
	return writeStmts{insert: tx.Stmt(st.insert), existing: tx.Stmt(st.existing)}
}

// insertSnapshot stores one snapshot with st, statements bound to a
// transaction.
func insertSnapshot(st writeStmts, req *putRequest) putResult {
	snap := req.snap
	var r putResult
	// An Exec, not RETURNING id through a query: SQLite buffers what
	// RETURNING returns, and database/sql builds rows to read it (20 of 57
	// allocations a snapshot in BenchmarkPutSnapshotFleet).
	res, err := st.insert.Exec(snap.AgentID, snap.BootEpoch, int64(snap.Seq), snap.Kind, snap.RequestID,
		unixNano(snap.CapturedAt), unixNano(snap.ReceivedAt), req.probes, snap.Trigger, unixNano(snap.AgentCapturedAt))
	var added int64
	if err == nil {
		added, err = res.RowsAffected()
	}
	switch {
	case err != nil:
		r.err = err
	case added == 0: // stored before: the conflict clause did nothing
		r.dup = true
		r.err = st.existing.QueryRow(snap.AgentID, snap.BootEpoch, int64(snap.Seq)).Scan(&r.id)
	default:
		r.id, r.err = res.LastInsertId()
	}
	return r
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpoints. In WAL mode a commit appends its pages to the -wal file; a
// checkpoint copies them into the database file and syncs it, and once
// the WAL is wholly copied the next write transaction starts it over.
// SQLite's default (wal_autocheckpoint, 1,000 pages) runs the checkpoint
// in the committing connection right after its commit: on the single
// writer, before that batch's acks, every 300 snapshots or so under
// ingest, and each time copying pages the next commits write again (an
// agent's index pages, the table's last page).
//
// So the writer runs no checkpoints of its own (wal_autocheckpoint(0) on
// its connection). checkpointWAL copies the WAL from a reader connection
// every checkpointEvery, beside the writer. SQLite starts the WAL over
// only in a write transaction that began with the WAL wholly copied, and a
// writer that commits without pause has always begun its next one before
// that checkpoint ends; so once the WAL holds walRestartPages, the writer
// copies the few pages committed since, between two batches (their acks
// sent), and its next transaction starts the WAL over.

const (
	// checkpointEvery is how often the WAL is copied into the database.
	checkpointEvery = 500 * time.Millisecond
	// walRestartPages is the WAL's length, in pages, past which the
	// writer finishes a checkpoint itself: 16 MB.
	walRestartPages = 4096
)

// walState is what PRAGMA wal_checkpoint reports: whether it was kept
// from finishing (another checkpoint under way, or readers of pages it
// could not copy yet), the WAL's pages, and how many of them are copied.
type walState struct {
	busy         bool
	pages, moved int
}

// copied reports whether the whole WAL is in the database file, as far as
// the checkpoint saw it: frames committed while it ran are not counted.
func (w walState) copied() bool { return !w.busy && w.pages == w.moved }

// checkpoint runs a passive checkpoint (it waits for no reader or writer)
// on a connection of db.
func checkpoint(ctx context.Context, db *sql.DB) (walState, error) {
	var w walState
	var busy int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &w.pages, &w.moved); err != nil {
		return w, fmt.Errorf("checkpointing the WAL: %w", err)
	}
	w.busy = busy != 0
	return w, nil
}

// checkpointWAL copies the WAL into the database every s.checkpointEvery
// until Close, and asks the writer to finish the copy when the WAL has
// grown long. A failed checkpoint is tried again at the next tick: the WAL
// keeps every commit meanwhile.
func (s *Store) checkpointWAL() {
	defer close(s.checkpointed)
	t := time.NewTicker(s.checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
		// The WAL's length counts from its last start: long, copied or
		// not, means the writer has not started it over.
		w, err := checkpoint(context.Background(), s.r)
		if err == nil && w.pages >= s.walRestartPages {
			s.walLong.Store(true)
		}
	}
}

// finishCheckpoint is the writer's part: copy what checkpointWAL left,
// so that the next transaction starts the WAL over. Only the group
// committer's goroutine calls it, between batches.
func (s *Store) finishCheckpoint() {
	if !s.walLong.Load() {
		return
	}
	w, err := checkpoint(context.Background(), s.w)
	if err == nil && w.copied() {
		s.walLong.Store(false)
	}
}

package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sondehq/sonde/collector/store"
)

// Last seen. Every snapshot an agent sends moves its last_seen. Updating
// the agent's row in each snapshot's commit wrote a 4 KB page of the
// agents table per snapshot, for 8 bytes, on the single writer that every
// ack waits for (BenchmarkPutSnapshotFleet: 21.5 KB written a snapshot
// with it, 17.4 KB without). So the group committer keeps
// the newest time of each agent in memory once its snapshot is committed,
// readers of agents see it at once (Agent, Agents), and the writer saves
// them all in one transaction at most seenFlushEvery later, and at Close.
// A crash of the collector loses at most that much of last_seen, never a
// snapshot. A hello (SeenAgent) writes its time straight away only with
// facts that changed; otherwise its time is held too.

// seenFlushEvery bounds how old the database's last_seen may be behind
// what readers are shown.
const seenFlushEvery = 2 * time.Second

// lastSeen holds the last-seen times not yet in the database.
type lastSeen struct {
	mu      sync.Mutex
	pending map[string]int64 // agent ID → received_at, Unix ns
	// noted wakes the group committer for a time held by noteOutside,
	// which no batch of its own would otherwise have it save.
	noted chan struct{}
}

// note records that agent id was heard at at (Unix ns), unless a later
// time is held already.
func (l *lastSeen) note(id string, at int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]int64{}
	}
	if at > l.pending[id] {
		l.pending[id] = at
	}
}

// noteOutside is note from outside the group committer (a hello), and
// has it save the time within seenFlushEvery.
func (l *lastSeen) noteOutside(id string, at int64) {
	l.note(id, at)
	select {
	case l.noted <- struct{}{}:
	default:
	}
}

// overlay moves a.LastSeen to the time held for it when that is later
// than the database's.
func (l *lastSeen) overlay(a *store.Agent) {
	l.mu.Lock()
	at, ok := l.pending[a.ID]
	l.mu.Unlock()
	if ok && at > unixNano(a.LastSeen) {
		a.LastSeen = fromNano(at)
	}
}

// take returns a copy of what is held, for a flush; what is held stays
// until flushed says it is saved, so readers see it meanwhile.
func (l *lastSeen) take() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	out := make(map[string]int64, len(l.pending))
	for id, at := range l.pending {
		out[id] = at
	}
	return out
}

// flushed forgets the times saved, except those that moved since take.
func (l *lastSeen) flushed(saved map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, at := range saved {
		if l.pending[id] == at {
			delete(l.pending, id)
		}
	}
}

// held reports whether a time waits for a flush.
func (l *lastSeen) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0
}

// flushSeen saves the held last-seen times in one transaction. On an
// error they stay held, for the next flush. Only the group committer's
// goroutine calls it, so no snapshot commit runs beside it.
func (s *Store) flushSeen() error {
	seen := s.seen.take()
	if len(seen) == 0 {
		return nil
	}
	err := s.saveSeen(seen)
	if err != nil {
		return fmt.Errorf("saving the last-seen times of %d agents: %w", len(seen), err)
	}
	s.seen.flushed(seen)
	return nil
}

func (s *Store) saveSeen(seen map[string]int64) error {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("beginning: %w", err)
	}
	defer tx.Rollback()
	st := tx.Stmt(s.writes.seen)
	for id, at := range seen {
		// max(): a hello may have written a later time meanwhile.
		if _, err := st.Exec(at, id); err != nil {
			return fmt.Errorf("agent %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

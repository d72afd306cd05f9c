package sqlite_test

import (
	"sync"
	"testing"

	"github.com/sondehq/sonde/collector/store"
)

// TestGroupCommit puts snapshots from many goroutines at once, so that they
// share transactions: each comes back stored once with its own ID, a
// resend comes back as a duplicate, and a row the schema refuses (an agent
// that is not enrolled) fails alone.
func TestGroupCommit(t *testing.T) {
	s, _ := newStore(t)
	enroll(t, s, "a1", "host-1")
	const n = 200
	type result struct {
		id  int64
		dup bool
		err error
	}
	results := make([]result, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			agent, seq := "a1", uint64(i%n+1)
			if i < n && i%10 == 3 {
				agent = "not-enrolled"
			}
			r := &results[i]
			r.id, r.dup, r.err = s.PutSnapshot(t.Context(), snapshot(agent, 1, seq, "health", base))
		})
	}
	wg.Wait()
	ids := map[int64]uint64{}
	for i, r := range results {
		seq := uint64(i%n + 1)
		if i < n && i%10 == 3 {
			if r.err == nil {
				t.Errorf("snapshot %d of an unknown agent was stored", i)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("snapshot %d: %v", i, r.err)
		}
		if prev, ok := ids[r.id]; ok && prev != seq {
			t.Errorf("ID %d given to seqs %d and %d", r.id, prev, seq)
		}
		ids[r.id] = seq
	}
	list, err := s.Snapshots(t.Context(), "a1", store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Errorf("stored %d snapshots, want %d (one per seq)", len(list), n)
	}
	// Every seq was put twice (i and i+n): when both succeeded, exactly
	// one of them is new.
	for i := range n {
		a, b := results[i], results[i+n]
		if a.err == nil && b.err == nil && a.dup == b.dup {
			t.Errorf("seq %d: duplicate flags %v and %v, want one of each", i+1, a.dup, b.dup)
		}
	}
}

// TestPutAfterClose refuses the snapshot instead of hanging.
func TestPutAfterClose(t *testing.T) {
	s, _ := newStore(t)
	enroll(t, s, "a1", "host-1")
	s.Close()
	if _, _, err := s.PutSnapshot(t.Context(), snapshot("a1", 1, 1, "health", base)); err == nil {
		t.Fatal("PutSnapshot after Close succeeded")
	}
}

package sqlite_test

import (
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
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

// TestFaultSnapshotsFilter lists only the snapshots taken at a fault, in
// the window asked.
func TestFaultSnapshotsFilter(t *testing.T) {
	s, _ := newStore(t)
	enroll(t, s, "a1", "host-1")
	for i, trigger := range []string{"", "collector-unreachable", "", "no-dns-resolvers", ""} {
		snap := snapshot("a1", 1, uint64(i+1), "health", base.Add(time.Duration(i)*time.Minute))
		if trigger != "" {
			snap.Kind, snap.Trigger = "full", trigger
		}
		if _, _, err := s.PutSnapshot(t.Context(), snap); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Snapshots(t.Context(), "a1", store.SnapshotFilter{Faults: true, Since: base.Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Trigger != "no-dns-resolvers" || got[0].Seq != 4 {
		t.Fatalf("faults since minute 2: %+v", got)
	}
	got, err = s.Snapshots(t.Context(), "a1", store.SnapshotFilter{Faults: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 2 {
		t.Fatalf("all faults: %+v", got)
	}
}

// TestPutSnapshotMovesLastSeen: a snapshot from the agent moves its
// last-seen time in the same commit, never backwards; an imported one
// does not.
func TestPutSnapshotMovesLastSeen(t *testing.T) {
	s, _ := newStore(t)
	enroll(t, s, "a1", "host-1")
	lastSeen := func() time.Time {
		a, err := s.Agent(t.Context(), "a1")
		if err != nil {
			t.Fatal(err)
		}
		return a.LastSeen
	}
	put := func(epoch int64, seq uint64, received time.Time) {
		snap := snapshot("a1", epoch, seq, "health", base)
		snap.ReceivedAt = received
		if _, _, err := s.PutSnapshot(t.Context(), snap); err != nil {
			t.Fatal(err)
		}
	}
	put(1, 1, base.Add(time.Hour))
	if got := lastSeen(); !got.Equal(base.Add(time.Hour)) {
		t.Fatalf("last seen %s after a snapshot received at %s", got, base.Add(time.Hour))
	}
	put(1, 2, base.Add(time.Minute)) // a late one: last seen stays
	put(protocol.ImportedEpoch, 3, base.Add(2*time.Hour))
	if got := lastSeen(); !got.Equal(base.Add(time.Hour)) {
		t.Fatalf("last seen %s after a late and an imported snapshot", got)
	}
}

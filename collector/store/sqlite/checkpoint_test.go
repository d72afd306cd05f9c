package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store/sqlite"
)

// TestCheckpointBesideWriter: with snapshots committed back to back, the
// WAL still reaches the database file while the store is open (the writer
// runs no checkpoint of its own) and is started over, instead of growing
// with every commit: 3,200 snapshots write about 28 MB to the WAL.
func TestCheckpointBesideWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sonde.db")
	s, err := sqlite.OpenTuned(t.Context(), path, time.Hour, 5*time.Millisecond, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const agents, each = 16, 200
	for i := range agents {
		enroll(t, s, fmt.Sprintf("agent-%02d", i), fmt.Sprintf("host-%02d", i))
	}
	before := fileSize(t, path)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			for seq := range uint64(each) {
				snap := snapshot(fmt.Sprintf("agent-%02d", i), 1, seq+1, "health", base.Add(time.Duration(seq)*time.Second))
				snap.Probes = healthProbes()
				if _, _, err := s.PutSnapshot(t.Context(), snap); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for fileSize(t, path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is still %d bytes after %d commits: nothing checkpointed", before, agents*each)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if wal := fileSize(t, path+"-wal"); wal > 8<<20 {
		t.Errorf("the WAL grew to %d bytes: never started over", wal)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package sqlite

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestDownsample stores three days of health samples, one every five
// minutes, and thins them: all of the last 6 h, one per 15 min to 48 h,
// one per hour beyond; nothing past the horizon; full snapshots untouched.
func TestDownsample(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := os.ReadFile("../../../findings/testdata/health/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc protocol.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAgent(ctx, store.Agent{ID: "a1", EnrolledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	put := func(kind string, seq uint64, at time.Time) {
		d := doc
		d.AgentID, d.Kind, d.BootEpoch, d.Seq, d.CapturedAt = "a1", kind, 1, seq, at
		if _, _, err := s.PutSnapshot(ctx, &store.Snapshot{Document: d, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	seq := uint64(0)
	for at := now.Add(-80 * time.Hour); at.Before(now); at = at.Add(5 * time.Minute) {
		seq++
		put("health", seq, at)
	}
	put("full", seq+1, now.Add(-79*time.Hour))
	var pages, pageSize int64
	s.r.QueryRow(`PRAGMA page_count`).Scan(&pages)
	s.r.QueryRow(`PRAGMA page_size`).Scan(&pageSize)
	t.Logf("database: %d bytes for %d samples, %d bytes a sample", pages*pageSize, seq, pages*pageSize/int64(seq))
	r := Retention{Full: 6 * time.Hour, Coarse: 48 * time.Hour, Step: 15 * time.Minute, Hourly: 72 * time.Hour}
	if _, err := s.Downsample(ctx, r, now); err != nil {
		t.Fatal(err)
	}
	count := func(kind string, from, to time.Duration) int {
		var n int
		s.r.QueryRow(`SELECT count(*) FROM snapshots WHERE kind = ? AND captured_at >= ? AND captured_at < ?`,
			kind, unixNano(now.Add(-to)), unixNano(now.Add(-from))).Scan(&n)
		return n
	}
	for _, c := range []struct {
		from, to time.Duration
		want     int
	}{
		{0, 6 * time.Hour, 72},
		{6 * time.Hour, 48 * time.Hour, 168},
		{48 * time.Hour, 72 * time.Hour, 24},
		{72 * time.Hour, 100 * time.Hour, 0},
	} {
		if got := count("health", c.from, c.to); got < c.want-1 || got > c.want+1 {
			t.Errorf("health samples %s–%s old: %d, want %d", c.from, c.to, got, c.want)
		}
	}
	if got := count("full", 0, 100*time.Hour); got != 1 {
		t.Errorf("full snapshots: %d, want 1", got)
	}
	// What a sample costs on disk, for the sizing in the README.
	var avg float64
	s.r.QueryRow(`SELECT avg(length(probes)) FROM snapshots WHERE kind = 'health'`).Scan(&avg)
	t.Logf("stored health sample: %.0f bytes of probe data (deflated from %d bytes of JSON)", avg, len(raw))
}

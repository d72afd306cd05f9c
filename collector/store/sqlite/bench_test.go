package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// BenchmarkPutSnapshot stores health snapshots from many agents at once,
// as the ingest side does, each durable (synchronous=FULL) before it
// returns.
func BenchmarkPutSnapshot(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sonde.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := hash("bench")
	if err := s.CreateToken(ctx, store.Token{Hash: h, CreatedAt: base, ExpiresAt: base.Add(time.Hour), Uses: 1, CreatedBy: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := s.Enroll(ctx, h, base, store.Agent{ID: "bench", EnrolledAt: base}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Uint64
	b.SetParallelism(32) // 64 writers on 2 cores, as many as the ingest side lets in
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, _, err := s.PutSnapshot(ctx, snapshot("bench", 1, n, "health", base)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "snapshots/s")
}

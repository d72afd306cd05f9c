package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Probe results are stored deflated behind a marker byte; rows written
// before that (plain JSON, starting with '[') still read.
const deflated = 0x01

func compress(b []byte) ([]byte, error) {
	z, err := protocol.AppendDeflate([]byte{deflated}, b)
	if err != nil {
		return nil, fmt.Errorf("compressing probe results: %w", err)
	}
	return z, nil
}

// maxStored bounds a stored blob after inflating, like the wire does.
const maxStored = 64 << 20

func decompress(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != deflated {
		return b, nil
	}
	out, err := protocol.Inflate(b[1:], maxStored)
	if err != nil {
		return nil, fmt.Errorf("inflating stored probe results: %w", err)
	}
	return out, nil
}

// Retention of periodic health samples. Full resolution for the recent
// past, thinner further back, nothing past the horizon; on-demand (full)
// snapshots are kept, since tickets and bundles point at them.
type Retention struct {
	Full   time.Duration // keep every sample this long (default 6 h)
	Coarse time.Duration // then one per Step up to this age (default 48 h)
	Step   time.Duration // the coarse step (default 15 min)
	Hourly time.Duration // then one per hour up to this age, the horizon (default 30 days)
}

// DefaultRetention is what the collector applies unless told otherwise.
var DefaultRetention = Retention{Full: 6 * time.Hour, Coarse: 48 * time.Hour, Step: 15 * time.Minute, Hourly: 30 * 24 * time.Hour}

// Downsample thins health samples according to r at now and returns how
// many it removed. It keeps, in each bucket, the earliest sample.
func (s *Store) Downsample(ctx context.Context, r Retention, now time.Time) (int64, error) {
	var total int64
	for _, step := range []struct {
		from, to time.Duration
		bucket   time.Duration
	}{
		{r.Full, r.Coarse, r.Step},
		{r.Coarse, r.Hourly, time.Hour},
	} {
		res, err := s.w.ExecContext(ctx, `DELETE FROM snapshots WHERE kind = 'health' AND captured_at < ? AND captured_at >= ?
			AND id NOT IN (SELECT min(id) FROM snapshots WHERE kind = 'health' AND captured_at < ? AND captured_at >= ?
				GROUP BY agent_id, captured_at / ?)`,
			unixNano(now.Add(-step.from)), unixNano(now.Add(-step.to)), unixNano(now.Add(-step.from)), unixNano(now.Add(-step.to)), step.bucket.Nanoseconds())
		if err != nil {
			return total, fmt.Errorf("thinning health samples older than %s: %w", step.from, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM snapshots WHERE kind = 'health' AND captured_at < ?`, unixNano(now.Add(-r.Hourly)))
	if err != nil {
		return total, fmt.Errorf("deleting health samples older than %s: %w", r.Hourly, err)
	}
	n, _ := res.RowsAffected()
	return total + n, nil
}

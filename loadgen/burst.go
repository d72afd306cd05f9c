package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// BurstResult is what an ingest burst measured.
type BurstResult struct {
	Senders  int
	Window   time.Duration
	Acked    int64   // snapshots acked (stored and committed) in the window
	Rate     float64 // Acked a second
	Busy     int64   // "busy, retry later" answers in the window
	Failed   int64
	Latency  Summary // write to ack
	WireSize int     // bytes of one snapshot frame
	// Total is every snapshot acked in the burst, warm-up and end
	// included, and CollectorCPU and LoadgenCPU the two processes' CPU
	// time over the same span (Run reads them): CPU a snapshot is the
	// figure a loaded machine moves least.
	Total                    int64
	CollectorCPU, LoadgenCPU time.Duration
}

// Burst measures the persisted and acked ingest rate: senders connected
// agents each send snapshots of kind back to back, one in flight each (the
// collector serves an agent one snapshot at a time), for warm-up plus
// window; the acks that arrive within the window count. An agent told the
// collector is busy holds back for the time it was told, as agents do.
func (f *Fleet) Burst(ctx context.Context, kind protocol.Kind, senders int, warmup, window time.Duration) (BurstResult, error) {
	var pool []*agent
	for _, a := range f.agents {
		if a.conn.Load() != nil {
			pool = append(pool, a)
		}
		if len(pool) == senders {
			break
		}
	}
	if len(pool) == 0 {
		return BurstResult{}, errors.New("ingest burst: no agent is connected")
	}
	size, err := f.cfg.Recorded.WireSize(kind)
	if err != nil {
		return BurstResult{}, err
	}
	var (
		acked, total atomic.Int64
		busy, failed atomic.Int64
		counting     atomic.Bool
		lat          Latencies
		wg           sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, warmup+window+30*time.Second)
	defer cancel()
	stop := make(chan struct{})
	for _, a := range pool {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				a.send.Lock()
				start := time.Now()
				sent, err := a.push(ctx, kind)
				a.send.Unlock()
				in := counting.Load()
				switch {
				case err == nil && sent:
					total.Add(1)
					if in {
						acked.Add(1)
						lat.Add(time.Since(start))
					}
				case errors.Is(err, errBusy):
					if in {
						busy.Add(1)
					}
					sleep(ctx, stop, time.Second)
				default:
					if in {
						failed.Add(1)
					}
					if err != nil {
						f.errs.note("ingest burst", err)
					}
					sleep(ctx, stop, 100*time.Millisecond)
				}
			}
		})
	}
	sleep(ctx, nil, warmup)
	counting.Store(true)
	began := time.Now()
	sleep(ctx, nil, window)
	counting.Store(false)
	took := time.Since(began)
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		return BurstResult{}, fmt.Errorf("ingest burst: %w", ctx.Err())
	}
	n := acked.Load()
	return BurstResult{Senders: len(pool), Window: took, Acked: n, Rate: float64(n) / took.Seconds(), Busy: busy.Load(),
		Failed: failed.Load(), Latency: lat.Summary(), WireSize: size, Total: total.Load()}, nil
}

// sleep waits d, or until ctx ends or stop is closed.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-stop:
	}
}

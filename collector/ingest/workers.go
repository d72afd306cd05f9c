package ingest

import (
	"sync"
	"sync/atomic"
	"time"
)

// workers run the exchanges agents open (a snapshot pushed, a renewal) on
// goroutines that outlive them. A goroutine of its own for each exchange
// starts with a small stack, which decoding and storing a snapshot (the
// CBOR decoder's reflection, the store's DEFLATE encoder and its 32 KB
// table on the stack) grew by copying, several times for every snapshot:
// 6 % of the collector's CPU under the ingest burst. A worker keeps its
// stack from one exchange to the next, and ends once none has come for
// idleWorker; there are never fewer goroutines than exchanges in flight,
// so an exchange waiting for its turn (takeTurn) holds up no other.
type workers struct {
	work    chan func() // unbuffered: a send succeeds only if a worker waits
	quit    chan struct{}
	wg      sync.WaitGroup
	started atomic.Int64 // goroutines started, for tests
}

// idleWorker is how long a worker waits for another exchange.
const idleWorker = 10 * time.Second

func newWorkers() *workers {
	return &workers{work: make(chan func()), quit: make(chan struct{})}
}

// run runs f on an idle worker, or on a new one when none is idle; it
// never waits.
func (w *workers) run(f func()) {
	select {
	case w.work <- f:
	default:
		w.started.Add(1)
		w.wg.Go(func() { w.serve(f) })
	}
}

func (w *workers) serve(f func()) {
	idle := time.NewTimer(idleWorker)
	defer idle.Stop()
	for {
		f()
		idle.Reset(idleWorker)
		select {
		case f = <-w.work:
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// stop ends the idle workers and waits for the busy ones; run must not be
// called after it.
func (w *workers) stop() {
	close(w.quit)
	w.wg.Wait()
}

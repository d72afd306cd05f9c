package ingest

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestWorkersReuse: exchanges one after another run on the same worker;
// once it has been idle for idleWorker it ends, and the next exchange
// starts another; stop ends the idle ones.
func TestWorkersReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorkers()
		ran := 0
		for range 50 {
			w.run(func() { ran++ })
			synctest.Wait() // the worker has run it and waits again
		}
		if ran != 50 || w.started.Load() != 1 {
			t.Errorf("50 exchanges one after another: %d ran, on %d goroutines; want 50 on 1", ran, w.started.Load())
		}
		time.Sleep(idleWorker + time.Millisecond)
		synctest.Wait() // the idle worker has ended
		w.run(func() { ran++ })
		synctest.Wait()
		if ran != 51 || w.started.Load() != 2 {
			t.Errorf("after %s idle: %d ran, %d goroutines started; want 51 and 2", idleWorker, ran, w.started.Load())
		}
		w.stop()
	})
}

// TestWorkersNeverWait: exchanges that block (waiting for their turn) each
// get a goroutine: run never waits for a worker to come free, so no
// exchange waits behind another.
func TestWorkersNeverWait(t *testing.T) {
	w := newWorkers()
	const n = 100
	var started sync.WaitGroup
	started.Add(n)
	release := make(chan struct{})
	for range n {
		w.run(func() {
			started.Done()
			<-release
		})
	}
	started.Wait() // all n at once, or this never returns
	close(release)
	w.stop()
	if got := w.started.Load(); got != n {
		t.Errorf("%d blocking exchanges ran on %d goroutines, want %d", n, got, n)
	}
}

package alerting

import (
	"context"
	"log/slog"
	"sync"
)

// queue runs jobs one at a time on a goroutine, holding at most max
// waiting jobs: when full, the oldest waiting job is dropped, so that a
// dead endpoint cannot grow memory.
type queue[T any] struct {
	max     int
	name    string
	log     *slog.Logger
	mu      sync.Mutex
	jobs    []T
	wake    chan struct{}
	done    chan struct{} // closed when run returns
	dropped int
}

func newQueue[T any](name string, max int, log *slog.Logger) *queue[T] {
	if max <= 0 {
		max = 1000
	}
	if log == nil {
		log = slog.Default()
	}
	return &queue[T]{max: max, name: name, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push adds a job, dropping the oldest when the queue is full.
func (q *queue[T]) push(j T) {
	q.mu.Lock()
	if len(q.jobs) >= q.max {
		q.jobs = q.jobs[1:]
		if q.dropped++; q.dropped%100 == 1 {
			q.log.Warn("notification queue full, oldest dropped", "notifier", q.name, "dropped_total", q.dropped)
		}
	}
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pending returns how many jobs wait.
func (q *queue[T]) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

// run calls do for each job until ctx is done.
func (q *queue[T]) run(ctx context.Context, do func(context.Context, T)) {
	defer close(q.done)
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			}
			continue
		}
		j := q.jobs[0]
		var zero T
		q.jobs[0] = zero
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		do(ctx, j)
	}
}

// wait blocks until run has returned; a nil queue (never started) has
// nothing to wait for.
func (q *queue[T]) wait() {
	if q != nil {
		<-q.done
	}
}

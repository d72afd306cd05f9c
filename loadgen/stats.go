package loadgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// maxSamples bounds what a Latencies keeps: past it, a uniform sample of
// everything recorded (reservoir sampling), so percentiles stay honest for
// runs of any length in bounded memory.
const maxSamples = 100_000

// Latencies records durations and reports percentiles. Safe for concurrent
// use; the zero value is ready.
type Latencies struct {
	mu      sync.Mutex
	samples []time.Duration
	count   int
	sum     time.Duration
	max     time.Duration
	limit   int // maxSamples unless a test sets it
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.limit
	if limit == 0 {
		limit = maxSamples
	}
	l.count++
	l.sum += d
	l.max = max(l.max, d)
	if len(l.samples) < limit {
		l.samples = append(l.samples, d)
		return
	}
	if j := rand.IntN(l.count); j < limit {
		l.samples[j] = d
	}
}

// Summary is what a Latencies recorded.
type Summary struct {
	Count                    int
	Mean, P50, P90, P99, Max time.Duration
}

// Summary computes the percentiles (nearest rank) of what was recorded.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	sorted := slices.Clone(l.samples)
	s := Summary{Count: l.count, Max: l.max}
	if l.count > 0 {
		s.Mean = l.sum / time.Duration(l.count)
	}
	l.mu.Unlock()
	slices.Sort(sorted)
	s.P50, s.P90, s.P99 = percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99)
	return s
}

// percentile is the nearest-rank percentile p of sorted: the smallest value
// with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func (s Summary) String() string {
	if s.Count == 0 {
		return "none"
	}
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s mean=%s", s.Count, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), ms(s.Mean))
}

// ms prints a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

// errCounter counts errors by message, keeping at most maxKinds kinds (the
// rest under "other"), so a fleet's failures show without its logs.
type errCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

const maxKinds = 20

func (e *errCounter) note(what string, err error) {
	msg := what
	if err != nil {
		msg += ": " + err.Error()
	}
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]int{}
	}
	if _, ok := e.counts[msg]; !ok && len(e.counts) >= maxKinds {
		msg = "other"
	}
	e.counts[msg]++
}

// top returns the counted messages, most frequent first.
func (e *errCounter) top() []Count {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Count, 0, len(e.counts))
	for m, n := range e.counts {
		out = append(out, Count{What: m, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return b.N - a.N })
	return out
}

// Count is one kind of error and how often it happened.
type Count struct {
	What string
	N    int
}

package api

import (
	"sync"
	"time"
)

// Rate limits per API key. They are keyed on the authenticated key, never
// on an address or a forwarded header, which a client could choose.
const (
	rateLimit = 20  // requests a second, sustained
	rateBurst = 100 // at once
)

// Limits per agent, on the snapshots it is asked for (on-demand and for
// bundles), from all keys together: however many engineers or scripts
// ask, one machine is not asked more often than this. The agent keeps its
// own budget besides (agent/budget).
const (
	agentRate  = 2  // snapshots asked a second, sustained
	agentBurst = 20 // at once
)

// limiter is a token bucket per API key, or per agent.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token from key's bucket at now, at the per-key limits.
func (l *limiter) allow(key string, now time.Time) bool {
	return l.allowAt(key, now, rateLimit, rateBurst)
}

// allowAt takes a token from key's bucket at now, which refills at rate
// tokens a second up to burst.
func (l *limiter) allowAt(key string, now time.Time, rate, burst float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

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

// limiter is a token bucket per API key.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token from key's bucket at now.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: rateBurst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(rateBurst, b.tokens+now.Sub(b.last).Seconds()*rateLimit)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

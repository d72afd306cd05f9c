package ingest

import "time"

// bucket is a token bucket: burst events pass at once, then rate a second.
// It is not safe for concurrent use.
type bucket struct {
	rate, burst float64 // tokens a second, and at most
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// take reports whether an event at now may pass, and if so spends a token.
func (b *bucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

package ingest

import (
	"testing"
	"time"
)

// TestBucket: a burst passes at once, then the rate refills one token per
// 1/rate seconds, never above the burst; an event passes only on a whole
// token.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	b := newBucket(4, 2, t0)
	steps := []struct {
		after time.Duration
		pass  bool
	}{
		{0, true}, {0, true}, {0, false}, // the burst, then nothing
		{125 * time.Millisecond, false}, // half a token
		{250 * time.Millisecond, true},  // a whole token, exactly
		{250 * time.Millisecond, false},
		{time.Hour, true}, {time.Hour, true}, {time.Hour, false}, // refilled to the burst, not above
	}
	for i, s := range steps {
		if got := b.take(t0.Add(s.after)); got != s.pass {
			t.Fatalf("step %d, %s after the start: take = %v, want %v (tokens left %v)", i, s.after, got, s.pass, b.tokens)
		}
	}
}

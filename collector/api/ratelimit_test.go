package api

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	var l limiter
	now := time.Unix(1000, 0)
	for i := 0; i < rateBurst; i++ {
		if !l.allow("k1", now) {
			t.Fatalf("request %d of a burst refused", i)
		}
	}
	if l.allow("k1", now) {
		t.Fatal("a request past the burst allowed")
	}
	if !l.allow("k2", now) {
		t.Fatal("one key's burst limited another key")
	}
	if !l.allow("k1", now.Add(time.Second/rateLimit)) {
		t.Fatal("the bucket did not refill")
	}
}

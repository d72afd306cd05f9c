package loadgen

import (
	"bytes"
	"testing"
	"time"
)

// TestRawCeiling runs the pair for half a second: every message counted
// was read whole by the receiver and acked.
func TestRawCeiling(t *testing.T) {
	res, err := RawCeiling(t.Context(), RawConfig{Message: bytes.Repeat([]byte("s"), 3000), Ack: []byte("ack!"),
		Conns: 3, PerSocket: 2, Warmup: 100 * time.Millisecond, Window: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Conns != 3 || res.Acked == 0 || res.Latency.Count != int(res.Acked) || res.Window < 500*time.Millisecond {
		t.Fatalf("result %+v", res)
	}
	if rate := float64(res.Acked) / res.Window.Seconds(); rate != res.Rate {
		t.Errorf("rate %v, want %v", res.Rate, rate)
	}
	for _, bad := range []RawConfig{{Ack: []byte("a"), Conns: 1}, {Message: []byte("m"), Conns: 1}, {Message: []byte("m"), Ack: []byte("a")}} {
		if _, err := RawCeiling(t.Context(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

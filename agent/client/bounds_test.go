package client

import (
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// TestCollectorIntervalBounded: a collector's welcome asking for a health
// snapshot every nanosecond gets one every MinHealthInterval, and one
// asking for one a year gets one a day: the agent keeps the collector's
// wishes within bounds, whoever runs the collector.
func TestCollectorIntervalBounded(t *testing.T) {
	for _, c := range []struct {
		asked, want time.Duration
	}{
		{time.Nanosecond, MinHealthInterval},
		{365 * 24 * time.Hour, MaxHealthInterval},
		{5 * time.Minute, 5 * time.Minute},
	} {
		tc := startTestCollector(t)
		tc.interval = c.asked
		cl, _, _ := connectedClient(t, tc, transport.KindQUIC)
		// The interval is set once the welcome is read, just after the
		// collector hands the connection over.
		for deadline := time.Now().Add(5 * time.Second); cl.healthInterval() != c.want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("a collector asking for %v: health interval %v, want %v", c.asked, cl.healthInterval(), c.want)
			}
		}
	}
}

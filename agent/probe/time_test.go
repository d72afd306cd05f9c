package probe_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

func TestTime(t *testing.T) {
	offset := func(off, rtt time.Duration, ok bool) *probe.Collector {
		return &probe.Collector{Addr: "collector.example.com:7443",
			Offset: func() (time.Duration, time.Duration, bool) { return off, rtt, ok }}
	}
	cases := []struct {
		name      string
		now       time.Time
		kernel    probe.KernelClock
		err       error
		tz        string
		local     *time.Location
		collector *probe.Collector
	}{
		{
			// /etc/localtime links to the zone; chrony keeps the clock in step.
			name:      "paris",
			now:       time.Date(2026, 7, 3, 14, 5, 9, 123456789, time.UTC),
			kernel:    probe.KernelClock{State: 0, Status: 0x2001, Offset: -182345, Freq: -1203456, MaxError: 21500, EstError: 312},
			local:     time.UTC,
			collector: offset(-3250*time.Microsecond, 18*time.Millisecond, true),
		},
		{
			// A copied zone file named by /etc/timezone; nothing disciplines
			// the clock, and the collector has not been met yet.
			name:      "tokyo",
			now:       time.Date(2026, 1, 20, 23, 59, 59, 0, time.UTC),
			kernel:    probe.KernelClock{State: 5, Status: 0x0041, MaxError: 16000000, EstError: 16000000},
			local:     time.UTC,
			collector: offset(0, 0, false),
		},
		{
			// TZ set in the service's environment; adjtimex refused by the
			// sandbox.
			name:  "container",
			now:   time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC),
			err:   errors.New("adjtimex: function not implemented"),
			tz:    ":America/New_York",
			local: time.FixedZone("EST", -5*3600),
		},
		{
			// No /etc/localtime: UTC. Synchronised, far behind the
			// collector.
			name:      "bare",
			now:       time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC),
			kernel:    probe.KernelClock{State: 0, Status: 0x0001, Offset: 1520, Freq: 655360, MaxError: 1500, EstError: 40},
			local:     time.UTC,
			collector: offset(93*time.Second, 41500*time.Microsecond, true),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "time", tc.name)
			p := probe.NewTestTime(probe.TimeFakes{
				Now:      func() time.Time { return tc.now },
				Adjtimex: func() (probe.KernelClock, error) { return tc.kernel, tc.err },
				TZ:       tc.tz,
				Local:    tc.local,
			})
			probetest.Golden(t, p, &probe.Env{Collector: tc.collector}, dir)

			ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
			v, err := p.Collect(ctx, &probe.Env{Health: true, Collector: tc.collector})
			if err != nil {
				t.Fatal(err)
			}
			probetest.Compare(t, v, filepath.Join(dir, "expected-health.json"))
		})
	}
}

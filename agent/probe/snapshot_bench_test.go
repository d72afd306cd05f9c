package probe_test

import (
	"context"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/protocol"
)

// BenchmarkSnapshot measures what one snapshot costs the machine: every
// probe run concurrently through a Set, results encoded as JSON, and the
// snapshot framed for the wire. cpu-ns/op is process CPU time (all
// threads), the figure the targets are about: full ≤ 5 ms, health ≤ 1 ms.
func BenchmarkSnapshot(b *testing.B) {
	for _, c := range []struct {
		name   string
		health bool
		probes []string
	}{
		{"full", false, nil},
		{"health", true, probe.HealthProbes},
	} {
		b.Run(c.name, func(b *testing.B) {
			set := probe.NewSet()
			env := &probe.Env{Health: c.health}
			ctx := context.Background()
			set.Run(ctx, env, c.probes, 10*time.Second) // warm: first CPU deltas, cached facts
			var wire int
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				snap := &protocol.Snapshot{
					Kind: protocol.KindFull, AgentID: "bench", BootEpoch: 1, Seq: 1, CapturedAt: 1,
					Probes: set.Run(ctx, env, c.probes, 10*time.Second),
				}
				frame, err := protocol.Append(nil, snap)
				if err != nil {
					b.Fatal(err)
				}
				wire = len(frame)
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64((cpu1-cpu0)/time.Duration(b.N)), "cpu-ns/op")
			}
			b.ReportMetric(float64(wire), "wire-B")
		})
	}
}

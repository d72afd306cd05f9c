package probe_test

import (
	"context"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// These benchmarks run the probes on the real host, without a collector:
// reaching one costs a network round trip, not CPU.

func BenchmarkProbeNetwork(b *testing.B)  { benchProbe(b, "network") }
func BenchmarkProbeServices(b *testing.B) { benchProbe(b, "services") }
func BenchmarkProbeTime(b *testing.B)     { benchProbe(b, "time") }

func benchProbe(b *testing.B, name string) {
	for _, variant := range []struct {
		name   string
		health bool
	}{{"full", false}, {"health", true}} {
		b.Run(variant.name, func(b *testing.B) {
			p, ok := probe.New(name)
			if !ok {
				b.Fatalf("probe %s is not registered", name)
			}
			ctx := context.Background()
			env := &probe.Env{Health: variant.health}
			if _, err := p.Collect(ctx, env); err != nil {
				b.Skipf("%s cannot run on this host: %v", name, err)
			}
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				if _, err := p.Collect(ctx, env); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, _ := processCPU(); cpuOK {
				// All threads, the garbage collector's included.
				b.ReportMetric(float64((cpu1-cpu0)/time.Duration(b.N)), "cpu-ns/op")
			}
		})
	}
}

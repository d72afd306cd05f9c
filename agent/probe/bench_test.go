package probe_test

import (
	"context"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

// These benchmarks run the host probes on the real host, full and health
// variants, through benchProbe (bench_net_test.go): one instance across
// iterations, as in the agent, so rates and cached static facts behave as
// they do there.

func BenchmarkProbeSystem(b *testing.B)    { benchProbe(b, "system") }
func BenchmarkProbeCPU(b *testing.B)       { benchProbe(b, "cpu") }
func BenchmarkProbeMemory(b *testing.B)    { benchProbe(b, "memory") }
func BenchmarkProbeDisk(b *testing.B)      { benchProbe(b, "disk") }
func BenchmarkProbeProcesses(b *testing.B) { benchProbe(b, "processes") }

// BenchmarkReadFacts measures the agent's start-up facts, read once.
func BenchmarkReadFacts(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		probe.ReadFacts(context.Background())
	}
}

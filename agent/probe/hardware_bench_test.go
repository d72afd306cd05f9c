package probe_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// benchFixture measures one probe instance collecting a fixture case's
// host, full and health variants.
func benchFixture(b *testing.B, newProbe func() probe.Probe, dir string) {
	for _, variant := range []struct {
		name   string
		health bool
	}{{"full", false}, {"health", true}} {
		b.Run(variant.name, func(b *testing.B) {
			p := newProbe()
			ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
			env := &probe.Env{Health: variant.health}
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				if _, err := p.Collect(ctx, env); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64((cpu1-cpu0)/time.Duration(b.N)), "cpu-ns/op")
			}
		})
	}
}

func BenchmarkHardwareProbeFixtureLaptop(b *testing.B) {
	dir := filepath.Join("testdata", "hardware", "laptop")
	benchFixture(b, hardwareCase(b, dir), dir)
}

func BenchmarkHardwareProbeFixtureServer(b *testing.B) {
	dir := filepath.Join("testdata", "hardware", "server")
	benchFixture(b, hardwareCase(b, dir), dir)
}

// BenchmarkHardwareProbeHost runs the probe on this machine; it is
// skipped where the machine has no hardware data at all.
func BenchmarkHardwareProbeHost(b *testing.B) { benchProbe(b, "hardware") }

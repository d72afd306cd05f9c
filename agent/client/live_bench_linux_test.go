package client

import (
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// BenchmarkNetworkProbeConnected measures the network probe of a full
// snapshot taken while the agent holds its connection to a collector on
// loopback, over each transport: interfaces, sockets and DNS settings, and
// the collector check. cpu-ns/op is the test process's CPU time (all
// threads), so a handshake counts both ends: the agent's and the in-process
// collector's.
func BenchmarkNetworkProbeConnected(b *testing.B) {
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		b.Run(kind, func(b *testing.B) {
			tc := startTestCollector(b)
			c, _, n := connectedClient(b, tc, kind)
			names := []string{"network"}
			c.Probes.Run(b.Context(), c.Env(false), names, probeTimeout) // warm
			before := n.quic.Load() + n.tcp.Load()
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				if r := c.Probes.Run(b.Context(), c.Env(false), names, probeTimeout); r[0].Error != "" {
					b.Fatal(r[0].Error)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu0)/time.Duration(b.N)), "cpu-ns/op")
			b.ReportMetric(float64(n.quic.Load()+n.tcp.Load()-before)/float64(b.N), "dials/op")
		})
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

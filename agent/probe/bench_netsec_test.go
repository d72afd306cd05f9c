package probe_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// The network-deeper and security probes on the real host (wifi has no
// Wi-Fi here and skips), then over the laptop fixtures, where every part
// of them has data: Wi-Fi with nl80211 dumps, a proxy in every file,
// tunnels, LUKS under LVM, the recorded nftables ruleset.

func BenchmarkProbeWifi(b *testing.B)     { benchProbe(b, "wifi") }
func BenchmarkProbeProxy(b *testing.B)    { benchProbe(b, "proxy") }
func BenchmarkProbeVPN(b *testing.B)      { benchProbe(b, "vpn") }
func BenchmarkProbeSecurity(b *testing.B) { benchProbe(b, "security") }

// BenchmarkProbeReachability checks three targets on this machine: a
// listener, a closed port, and localhost resolved from /etc/hosts.
func BenchmarkProbeReachability(b *testing.B) {
	open, closed := localTargets(b)
	env := &probe.Env{Reachability: []string{"127.0.0.1:" + open, "127.0.0.1:" + closed, "localhost:" + open}}
	benchCollect(b, probe.NewTestReachability(probe.ReachFakes{}), context.Background(), env)
}

func BenchmarkWifiLaptopFixture(b *testing.B) {
	dir := filepath.Join("testdata", "wifi", "laptop")
	benchCollect(b, probe.NewTestWifi("linux", filepath.Join(dir, "nl80211"), &probe.Tools{}),
		probe.WithRoot(context.Background(), filepath.Join(dir, "root")), &probe.Env{})
}

func BenchmarkProxyLaptopFixture(b *testing.B) {
	benchCollect(b, probe.NewTestProxy("linux", nil, &probe.Tools{}),
		probe.WithRoot(context.Background(), filepath.Join("testdata", "proxy", "laptop", "root")), &probe.Env{})
}

func BenchmarkVPNLaptopFixture(b *testing.B) {
	dir := filepath.Join("testdata", "vpn", "laptop")
	p := probe.NewTestVPN("linux", interfacesJSON(b, filepath.Join(dir, "interfaces.json")), nil)
	benchCollect(b, p, probe.WithRoot(context.Background(), filepath.Join(dir, "root")), &probe.Env{})
}

func BenchmarkSecurityLaptopFixture(b *testing.B) {
	dir := filepath.Join("testdata", "security", "laptop")
	p := probe.NewTestSecurity("linux", filepath.Join(dir, "nftables"), nil, &probe.Tools{})
	benchCollect(b, p, probe.WithRoot(context.Background(), filepath.Join(dir, "root")), &probe.Env{})
}

// benchCollect runs one probe instance over and over, reporting process
// CPU time per run.
func benchCollect(b *testing.B, p probe.Probe, ctx context.Context, env *probe.Env) {
	if _, err := p.Collect(ctx, env); err != nil {
		b.Fatal(err)
	}
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
}

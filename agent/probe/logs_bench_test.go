package probe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// BenchmarkProbeLogs runs the logs probe on this host, as a bundle does:
// the kernel ring buffer, the journal (when there is one), the crash
// folders.
func BenchmarkProbeLogs(b *testing.B) {
	p, _ := probe.New("logs")
	benchLogs(b, p, context.Background())
}

// BenchmarkLogsAtLimits runs the logs probe over a host at its reading
// limits: a kernel ring of 1 MiB (10,000 records, a third of them
// warnings of 300 kinds), 2,000 journal entries of 400 kinds (the most
// journalctl is asked for) and 500 core files.
func BenchmarkLogsAtLimits(b *testing.B) {
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"proc/sys/kernel/random", "dev", "var/lib/systemd/coredump", "var/log/journal/m"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	files := map[string]string{
		"proc/uptime":                      "86000.00 1.00\n",
		"proc/sys/kernel/random/boot_id":   "4f1c2a9e-7b3d-4e8a-9c61-2d5f0e8b7a13\n",
		"var/log/journal/m/system.journal": "",
	}
	var kmsg strings.Builder
	for i := range 10000 {
		level := 6
		if i%3 == 0 {
			level = 3 + i%2
		}
		fmt.Fprintf(&kmsg, "%d,%d,%d,-;driver%d 0000:00:%02x.0: event %d happened at 0x%x, retrying in %dms password=p%d\n SUBSYSTEM=pci\n",
			level, i, int64(i)*8_000_000, i%300, i%256, i, i*4096, i%50, i)
	}
	files["dev/kmsg"] = kmsg.String()
	for i := range 500 {
		files[fmt.Sprintf("var/lib/systemd/coredump/core.app%d.1000.4f1c2a9e7b3d4e8a9c612d5f0e8b7a13.%d.%d.zst", i%40, 1000+i, now.Add(-time.Duration(i)*time.Minute).UnixMicro())] = ""
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var journal strings.Builder
	for i := range 2000 {
		e, _ := json.Marshal(map[string]string{
			"__REALTIME_TIMESTAMP": fmt.Sprint(now.Add(-time.Duration(i) * 40 * time.Second).UnixMicro()),
			"_BOOT_ID":             "4f1c2a9e7b3d4e8a9c612d5f0e8b7a13", "PRIORITY": fmt.Sprint(3 + i%2),
			"SYSLOG_IDENTIFIER": fmt.Sprintf("svc%d", i%40), "_SYSTEMD_UNIT": fmt.Sprintf("svc%d.service", i%40),
			"MESSAGE": fmt.Sprintf("request %d to https://api.example.com/v1/items/%d failed (kind %d): upstream 10.0.%d.%d timed out after %dms, token=ghp_%036d",
				i, i*7, i%10, i%4, i%250, 100+i%900, i),
		})
		journal.Write(append(e, '\n'))
	}
	out := []byte(journal.String())
	p := probe.NewTestLogs(probe.LogsFakes{Now: now, Loc: time.UTC, GOOS: "linux", Limits: probe.DefaultLogsLimits,
		Tool: func(context.Context, int, string, ...string) ([]byte, bool, error) { return out, false, nil }})
	benchLogs(b, p, probe.WithRoot(context.Background(), root))
}

func benchLogs(b *testing.B, p probe.Probe, ctx context.Context) {
	v, err := p.Collect(ctx, &probe.Env{})
	if err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(v)
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		if _, err := p.Collect(ctx, &probe.Env{}); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := processCPU(); cpuOK {
		b.ReportMetric(float64((cpu1-cpu0)/time.Duration(b.N)), "cpu-ns/op")
	}
	b.ReportMetric(float64(len(data)), "result-B")
}

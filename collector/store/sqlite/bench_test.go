package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/protocol"
)

// BenchmarkPutSnapshot stores health snapshots from many agents at once,
// as the ingest side does, each durable (synchronous=FULL) before it
// returns.
func BenchmarkPutSnapshot(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sonde.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := hash("bench")
	if err := s.CreateToken(ctx, store.Token{Hash: h, CreatedAt: base, ExpiresAt: base.Add(time.Hour), Uses: 1, CreatedBy: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := s.Enroll(ctx, h, base, store.Agent{ID: "bench", EnrolledAt: base}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Uint64
	b.SetParallelism(32) // 64 writers on 2 cores, as many as the ingest side lets in
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, _, err := s.PutSnapshot(ctx, snapshot("bench", 1, n, "health", base)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "snapshots/s")
}

// BenchmarkPutSnapshotFleet stores health snapshots as the ingest burst of
// `sonde-loadgen bench` sends them: 200 agents with a real agent's facts,
// 64 writers each serving its own agents one snapshot at a time, nine
// probes and 2.1 KB of JSON a snapshot. written_B/op is what the process
// wrote to the file system for each (the WAL and its checkpoints).
func BenchmarkPutSnapshotFleet(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sonde.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const agents = 200
	probeNames := []string{"agent", "cpu", "disks", "load", "memory", "network", "processes", "services", "system", "time", "clock", "logins", "software", "storage-health"}
	for i := range agents {
		a := store.Agent{ID: fmt.Sprintf("%020x", i), EnrolledAt: base, AgentVersion: "0.9.3", Probes: probeNames, Facts: protocol.Facts{
			Hostname: fmt.Sprintf("host-%03d.corp.example.net", i), OS: "linux", Platform: "debian", PlatformFamily: "debian", PlatformVersion: "12",
			KernelVersion: "6.1.0-28-amd64", Arch: "x86_64", Virtualization: "kvm", HostID: fmt.Sprintf("%032x", i),
			CPUModel: "Intel(R) Xeon(R) Processor", CPUs: 8, MemoryBytes: 16 << 30, BootTime: 1732400000}}
		if err := s.AddAgent(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	probes := healthProbes()
	var writers atomic.Int64
	written := writtenBytes(b)
	b.SetParallelism(32) // 64 writers on 2 cores, as many as the ingest side lets in
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(writers.Add(1) - 1)
		var seq uint64
		for i := 0; pb.Next(); i++ {
			agent := (w + 64*i) % agents
			seq++
			snap := snapshot(fmt.Sprintf("%020x", agent), int64(1000+w), seq, "health", base.Add(time.Duration(seq)*time.Second))
			snap.Probes = probes
			if _, _, err := s.PutSnapshot(ctx, snap); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "snapshots/s")
	b.ReportMetric(float64(writtenBytes(b)-written)/float64(b.N), "written_B/op")
}

// healthProbes are a health snapshot's probe results as an agent sends
// them: nine probes, 2.1 KB of JSON.
func healthProbes() []protocol.ProbeJSON {
	data := map[string]string{
		"agent":     `{"version":"0.9.3","uptime_s":86400,"rss_bytes":14120960,"goroutines":23,"spool":{"queued":0,"bytes":0}}`,
		"cpu":       `{"user":12.5,"system":3.25,"idle":83.5,"iowait":0.75,"steal":0,"cores":[{"core":0,"busy":18.2},{"core":1,"busy":14.9},{"core":2,"busy":21.4},{"core":3,"busy":11.3},{"core":4,"busy":9.8},{"core":5,"busy":12.1},{"core":6,"busy":7.7},{"core":7,"busy":15.0}]}`,
		"disks":     `[{"mountpoint":"/","total":107374182400,"used":42949672960,"inodes_used":812345},{"mountpoint":"/var","total":214748364800,"used":96636764160,"inodes_used":1203344},{"mountpoint":"/home","total":53687091200,"used":1073741824,"inodes_used":20311},{"mountpoint":"/boot","total":1073741824,"used":201326592,"inodes_used":342}]`,
		"load":      `{"load1":0.42,"load5":0.37,"load15":0.31,"procs_running":3,"procs_total":412}`,
		"memory":    `{"total":17179869184,"available":10737418240,"used":5368709120,"swap_total":1073741824,"swap_used":0,"cached":2147483648}`,
		"network":   `[{"name":"eth0","rx_bytes":98765432101,"tx_bytes":12345678901,"rx_errors":3,"tx_errors":0,"rx_dropped":12,"tx_dropped":0},{"name":"docker0","rx_bytes":5550001,"tx_bytes":4440002,"rx_errors":0,"tx_errors":0,"rx_dropped":0,"tx_dropped":0}]`,
		"processes": `{"count":412,"threads":1290,"zombies":0,"top_cpu":[{"pid":1234,"name":"java","cpu":41.5,"rss":1288490188},{"pid":877,"name":"postgres","cpu":12.0,"rss":402653184},{"pid":2210,"name":"node","cpu":6.5,"rss":251658240}],"top_rss":[{"pid":1234,"name":"java","cpu":41.5,"rss":1288490188},{"pid":877,"name":"postgres","cpu":12.0,"rss":402653184}]}`,
		"services":  `{"failed":["backup.service"],"running":61,"total":70}`,
		"time":      `{"synced":true,"source":"ntp.example.net","stratum":2,"offset_ms":0.42,"jitter_ms":0.11,"timezone":"Europe/Paris"}`,
	}
	var out []protocol.ProbeJSON
	for _, name := range []string{"agent", "cpu", "disks", "load", "memory", "network", "processes", "services", "time"} {
		out = append(out, protocol.ProbeJSON{Name: name, DurationMS: 0.35, Data: json.RawMessage(data[name])})
	}
	return out
}

// writtenBytes is what this process has written so far (wchar of
// /proc/self/io: the bytes its write calls passed to the file system).
func writtenBytes(b *testing.B) int64 {
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no wchar in /proc/self/io")
	return 0
}

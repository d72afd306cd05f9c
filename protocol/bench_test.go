package protocol

import (
	"fmt"
	"runtime"
	"testing"
)

// benchSnapshots are the two snapshots an agent sends: a full one, answering
// a request, with eight probes and about 45 KB of JSON (compressed on the
// wire), and a periodic health one of about 1.3 KB (sent as is).
func benchSnapshots() []struct {
	name string
	msg  *Snapshot
} {
	return []struct {
		name string
		msg  *Snapshot
	}{
		{"full", fullSnapshot()},
		{"health", healthSnapshot()},
	}
}

func fullSnapshot() *Snapshot {
	r := lcg(42)
	type cpu struct {
		Core   int     `json:"core"`
		User   float64 `json:"user"`
		System float64 `json:"system"`
		Idle   float64 `json:"idle"`
		IOWait float64 `json:"iowait"`
		MHz    int     `json:"mhz"`
	}
	cpus := make([]cpu, 8)
	for i := range cpus {
		cpus[i] = cpu{i, float64(r.next(5000)) / 100, float64(r.next(2000)) / 100, float64(r.next(10000)) / 100, float64(r.next(300)) / 100, 2450 + r.next(1000)}
	}
	type disk struct {
		Device     string `json:"device"`
		Mountpoint string `json:"mountpoint"`
		FSType     string `json:"fstype"`
		Options    string `json:"options"`
		Total      uint64 `json:"total"`
		Used       uint64 `json:"used"`
		InodesUsed uint64 `json:"inodes_used"`
		Reads      uint64 `json:"reads"`
		Writes     uint64 `json:"writes"`
	}
	var disks []disk
	for i, mp := range []string{"/", "/boot", "/boot/efi", "/var", "/var/lib/postgresql", "/home", "/tmp", "/mnt/backup"} {
		disks = append(disks, disk{fmt.Sprintf("/dev/nvme0n1p%d", i+1), mp, "ext4", "rw,relatime,errors=remount-ro", uint64(20+r.next(500)) << 30, uint64(1+r.next(20)) << 30, uint64(r.next(1 << 20)), uint64(r.next(1 << 30)), uint64(r.next(1 << 30))})
	}
	type conn struct {
		Proto  string `json:"proto"`
		Local  string `json:"local"`
		Remote string `json:"remote"`
		State  string `json:"state"`
		PID    int    `json:"pid"`
	}
	type iface struct {
		Name    string   `json:"name"`
		MAC     string   `json:"mac"`
		MTU     int      `json:"mtu"`
		Addrs   []string `json:"addrs"`
		RxBytes uint64   `json:"rx_bytes"`
		TxBytes uint64   `json:"tx_bytes"`
		RxErr   uint64   `json:"rx_errors"`
		TxErr   uint64   `json:"tx_errors"`
	}
	var conns []conn
	for i := range 60 {
		conns = append(conns, conn{"tcp", fmt.Sprintf("10.0.%d.%d:%d", r.next(4), 1+r.next(254), []int{22, 80, 443, 5432, 6379}[r.next(5)]), fmt.Sprintf("192.0.2.%d:%d", 1+r.next(254), 32768+r.next(28000)), []string{"ESTABLISHED", "TIME_WAIT", "LISTEN", "CLOSE_WAIT"}[r.next(4)], 100 + i*7})
	}
	network := map[string]any{
		"interfaces": []iface{
			{"lo", "", 65536, []string{"127.0.0.1/8", "::1/128"}, 123456789, 123456789, 0, 0},
			{"eth0", "52:54:00:12:34:56", 1500, []string{"10.0.1.17/24", "fe80::5054:ff:fe12:3456/64"}, 98765432101, 12345678901, 3, 0},
			{"docker0", "02:42:ac:11:00:01", 1500, []string{"172.17.0.1/16"}, 5550001, 4440002, 0, 0},
		},
		"connections": conns,
	}
	type unit struct {
		Name   string `json:"name"`
		Load   string `json:"load"`
		Active string `json:"active"`
		Sub    string `json:"sub"`
		Since  int64  `json:"since"`
	}
	var units []unit
	for i := range 70 {
		units = append(units, unit{fmt.Sprintf("%s-%d.service", []string{"nginx", "postgresql", "ssh", "cron", "systemd-journald", "docker", "containerd", "app-worker"}[r.next(8)], i), "loaded", []string{"active", "active", "active", "inactive", "failed"}[r.next(5)], []string{"running", "exited", "dead"}[r.next(3)], testBootEpoch + int64(r.next(86400))})
	}
	type login struct {
		User    string `json:"user"`
		TTY     string `json:"tty"`
		From    string `json:"from"`
		Started int64  `json:"started"`
	}
	logins := []login{{"alice", "pts/0", "198.51.100.7", 1732450000}, {"bob", "pts/1", "198.51.100.23", 1732455000}, {"root", "tty1", "", 1732401000}}

	probes := []ProbeResult{
		{Name: "cpu", Data: mustJSON(map[string]any{"model": testFacts.CPUModel, "cores": cpus, "load": []float64{0.42, 0.37, 0.31}}), Duration: 1_002_000_000},
		{Name: "disks", Data: mustJSON(disks), Duration: 3_400_000},
		{Name: "logins", Data: mustJSON(logins), Duration: 210_000},
		{Name: "memory", Data: []byte(`{"total":8589934592,"available":5368709120,"used":2684354560,"buffers":134217728,"cached":1610612736,"swap_total":1073741824,"swap_used":0}`), Duration: 90_000},
		{Name: "network", Data: mustJSON(network), Duration: 12_500_000},
		{Name: "processes", Data: processesJSON(150, 42), Duration: 48_000_000},
		{Name: "services", Data: mustJSON(units), Duration: 95_000_000},
		{Name: "system", Data: mustJSON(map[string]any{"facts": testFacts, "uptime": 58897, "users": 3, "timezone": "Europe/Paris"}), Duration: 400_000},
	}
	return &Snapshot{
		RequestID:  testRequestID,
		Kind:       KindFull,
		AgentID:    testAgentID,
		BootEpoch:  testBootEpoch,
		Seq:        1042,
		CapturedAt: 1732458897000,
		Probes:     probes,
	}
}

func healthSnapshot() *Snapshot {
	return &Snapshot{
		Kind:       KindHealth,
		AgentID:    testAgentID,
		BootEpoch:  testBootEpoch,
		Seq:        1043,
		CapturedAt: 1732458957000,
		Probes: []ProbeResult{
			{Name: "load", Data: []byte(`{"load1":0.42,"load5":0.37,"load15":0.31,"procs_running":3,"procs_total":412}`), Duration: 41_000},
			{Name: "memory", Data: []byte(`{"total":8589934592,"available":5368709120,"used":2684354560,"swap_total":1073741824,"swap_used":0}`), Duration: 90_000},
			{Name: "cpu", Data: []byte(`{"user":12.5,"system":3.25,"idle":83.5,"iowait":0.75,"steal":0,"cores":[{"core":0,"busy":18.2},{"core":1,"busy":14.9},{"core":2,"busy":21.4},{"core":3,"busy":11.3}]}`), Duration: 1_001_000_000},
			{Name: "clock", Data: []byte(`{"synced":true,"source":"ntp.example.net","stratum":2,"offset_ms":0.42,"jitter_ms":0.11}`), Duration: 350_000},
			{Name: "disks", Data: []byte(`[{"mountpoint":"/","total":107374182400,"used":42949672960,"inodes_used":812345},{"mountpoint":"/var","total":214748364800,"used":96636764160,"inodes_used":1203344},{"mountpoint":"/home","total":53687091200,"used":1073741824,"inodes_used":20311},{"mountpoint":"/boot","total":1073741824,"used":201326592,"inodes_used":342}]`), Duration: 260_000},
			{Name: "network", Data: []byte(`[{"name":"eth0","rx_bytes":98765432101,"tx_bytes":12345678901,"rx_errors":3,"tx_errors":0,"rx_dropped":12,"tx_dropped":0},{"name":"docker0","rx_bytes":5550001,"tx_bytes":4440002,"rx_errors":0,"tx_errors":0,"rx_dropped":0,"tx_dropped":0}]`), Duration: 180_000},
			{Name: "services", Data: []byte(`{"failed":["backup.service"],"running":61,"total":70}`), Duration: 8_000_000},
			{Name: "processes", Error: "reading /proc/4242/stat: no such process", Duration: 15_000_000},
		},
	}
}

func dataSize(m *Snapshot) int {
	n := 0
	for _, p := range m.Probes {
		n += len(p.Data)
	}
	return n
}

// TestBenchSnapshots keeps the benchmark inputs honest: valid, of the sizes
// the benchmarks claim, and on the intended side of the compression
// threshold.
func TestBenchSnapshots(t *testing.T) {
	for _, s := range benchSnapshots() {
		if err := s.msg.Validate(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		payload := mustMarshal(t, s.msg)
		b := mustAppend(t, s.msg)
		hd, _ := splitFrame(t, b)
		t.Logf("%s: %d probes, %d bytes of JSON, %d byte payload, %d byte frame", s.name, len(s.msg.Probes), dataSize(s.msg), len(payload), len(b))
		switch s.name {
		case "full":
			if n := dataSize(s.msg); n < 30<<10 || n > 60<<10 || len(s.msg.Probes) != 8 {
				t.Errorf("full snapshot: %d probes, %d bytes of JSON; want 8 and 30-60 KiB", len(s.msg.Probes), n)
			}
			if hd.Flags&FlagDeflate == 0 {
				t.Error("full snapshot is not compressed")
			}
		case "health":
			if len(payload) < 1<<10 || len(payload) > 2<<10 {
				t.Errorf("health snapshot payload is %d bytes, want 1-2 KiB", len(payload))
			}
			if hd.Flags&FlagDeflate != 0 {
				t.Error("health snapshot is compressed")
			}
		}
	}
}

// The benchmarks count bytes as the CBOR payload before compression, the
// work a message stands for; wire_B reports the frame's size on the wire.

func BenchmarkEncodeSnapshot(b *testing.B) {
	for _, s := range benchSnapshots() {
		b.Run(s.name, func(b *testing.B) {
			frame := mustAppend(b, s.msg)
			b.SetBytes(int64(len(mustMarshal(b, s.msg))))
			b.ReportAllocs()
			buf := make([]byte, 0, len(frame))
			for b.Loop() {
				var err error
				if buf, err = Append(buf[:0], s.msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(frame)), "wire_B")
		})
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	for _, s := range benchSnapshots() {
		b.Run(s.name, func(b *testing.B) {
			frame := mustAppend(b, s.msg)
			b.SetBytes(int64(len(mustMarshal(b, s.msg))))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(frame)), "wire_B")
		})
	}
}

// BenchmarkEncodeSnapshotAfterGC encodes a full snapshot after two garbage
// collections, as an agent does: its full snapshots come minutes apart, with
// collections in between, so nothing kept in a sync.Pool survives from one
// to the next. B/op is what one such snapshot allocates to be compressed.
func BenchmarkEncodeSnapshotAfterGC(b *testing.B) {
	msg := fullSnapshot()
	frame := mustAppend(b, msg)
	b.SetBytes(int64(len(mustMarshal(b, msg))))
	b.ReportAllocs()
	buf := make([]byte, 0, 2*len(frame))
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.GC()
		b.StartTimer()
		var err error
		if buf, err = Append(buf[:0], msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "wire_B")
}

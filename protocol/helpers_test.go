package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// Fixed values shared by the golden messages. Nothing in them depends on the
// clock, the machine or a random source, so the encodings are reproducible.
const (
	testAgentID   = "ag-01J9Z3K7W4XQ8M2N5P6R"
	testRequestID = "rq-7f3a9c51"
	testBootEpoch = 1732400000
)

var testFacts = Facts{
	Hostname:        "web-01.example.net",
	OS:              "linux",
	Platform:        "debian",
	PlatformFamily:  "debian",
	PlatformVersion: "12.8",
	KernelVersion:   "6.1.0-28-amd64",
	Arch:            "x86_64",
	Virtualization:  "kvm",
	HostID:          "8f3e2c1a-5b7d-4e09-9a61-0c2d4f6b8e13",
	CPUModel:        "AMD EPYC 7763 64-Core Processor",
	CPUs:            4,
	MemoryBytes:     8 << 30,
	BootTime:        testBootEpoch,
}

// namedMessage is a golden message and the base name of its file.
type namedMessage struct {
	name string
	msg  Message
}

// goldenMessages returns one representative message of every type, plus a
// snapshot large enough to be compressed. Each call returns fresh values.
func goldenMessages() []namedMessage {
	return []namedMessage{
		// Listed before "hello", whose probes and facts TestReadOnlyGuards
		// changes (goldenOf takes the last of a type).
		{"hello-challenge", &Hello{
			AgentID:      testAgentID,
			AgentVersion: "0.1.0 (linux/amd64)",
			Versions:     []uint8{1},
			AgentTime:    1732458896000000000,
			Challenge:    fakeDER(0x06, ChallengeLen),
		}},
		{"hello", &Hello{
			AgentID:      testAgentID,
			AgentVersion: "0.1.0 (linux/amd64)",
			Versions:     []uint8{1},
			BootEpoch:    testBootEpoch,
			Facts:        testFacts,
			Probes:       []string{"cpu", "disks", "memory", "network", "processes", "system"},
		}},
		{"welcome", &Welcome{
			CollectorTime:  1732458896123456789,
			HealthInterval: int64(60 * time.Second),
		}},
		{"welcome-proof", &Welcome{
			CollectorTime:  1732458896123456789,
			HealthInterval: int64(60 * time.Second),
			Proof:          fakeDER(0x07, 64),
		}},
		{"introduce", &Introduce{
			BootEpoch: testBootEpoch,
			Facts:     testFacts,
			Probes:    []string{"cpu", "disks", "memory", "network", "processes", "system"},
		}},
		{"snapshot-request", &SnapshotRequest{
			RequestID: testRequestID,
			Probes:    []string{"disks", "processes"},
			Deadline:  1732458926123,
		}},
		{"snapshot-request-fresh", &SnapshotRequest{
			RequestID:      testRequestID,
			Deadline:       1732458926123,
			Ticket:         "INC-4711",
			FreshHandshake: true,
		}},
		{"snapshot-request-agreed", &SnapshotRequest{
			RequestID:  testRequestID,
			Probes:     []string{"logs"},
			Deadline:   1732458926123,
			Fresh:      true,
			UserAgreed: true,
		}},
		{"snapshot-request-processes", &SnapshotRequest{
			RequestID: testRequestID,
			Probes:    []string{"processes"},
			Deadline:  1732458926123,
			Ticket:    "INC-4711",
			Processes: []string{"java", "sonde-canary-proc"},
		}},
		{"snapshot", &Snapshot{
			RequestID:  testRequestID,
			Kind:       KindFull,
			AgentID:    testAgentID,
			BootEpoch:  testBootEpoch,
			Seq:        42,
			CapturedAt: 1732458897000,
			Probes: []ProbeResult{
				{
					Name:     "memory",
					Data:     []byte(`{"total":8589934592,"available":5368709120,"used":2684354560,"swap_total":1073741824,"swap_used":0}`),
					Duration: int64(1234567 * time.Nanosecond),
				},
				{
					Name:     "disks",
					Error:    "statfs /mnt/backup: stale NFS file handle",
					Duration: int64(5 * time.Second),
				},
			},
		}},
		{"snapshot-deflate", &Snapshot{
			Kind:       KindHealth,
			AgentID:    testAgentID,
			BootEpoch:  testBootEpoch,
			Seq:        43,
			CapturedAt: 1732458957000,
			Probes: []ProbeResult{
				{Name: "load", Data: []byte(`{"load1":0.42,"load5":0.37,"load15":0.31}`), Duration: 41000},
				{Name: "processes", Data: processesJSON(60, 7), Duration: 18500000},
			},
		}},
		{"snapshot-scrubbed", &Snapshot{
			RequestID:  testRequestID,
			Kind:       KindFull,
			AgentID:    testAgentID,
			BootEpoch:  testBootEpoch,
			Seq:        44,
			CapturedAt: 1732458960000,
			Probes: []ProbeResult{{
				Name:     "processes",
				Data:     []byte(`{"top_cpu":[{"pid":4242,"name":"backup","cmdline":"backup --password=[REDACTED:cli-flag-secret] s3://bucket"}]}`),
				Error:    "2 processes vanished while read",
				Duration: 3200000,
				Scrubbed: []Scrub{{Rule: "cli-flag-secret", Count: 1}},
			}},
		}},
		{"ack", &Ack{
			AgentID:   testAgentID,
			BootEpoch: testBootEpoch,
			Seq:       42,
			Duplicate: true,
		}},
		{"error", &Error{
			Code:      CodeNotFound,
			Message:   `no probe named "gpu"`,
			RequestID: testRequestID,
		}},
		{"error-busy", &Error{
			Code:       CodeUnavailable,
			Message:    "collector busy",
			RetryAfter: 2500,
		}},
		{"enroll", &Enroll{
			Token: "sonde-enroll-3q7XkP2mZ9vW4tR8yB6nC1dF5gH0jL",
			CSR:   fakeDER(0x01, 280),
			Facts: testFacts,
		}},
		{"enrolled", &Enrolled{
			AgentID:     testAgentID,
			Certificate: fakeDER(0x02, 420),
			CA:          fakeDER(0x03, 390),
		}},
		{"renew", &Renew{CSR: fakeDER(0x04, 280)}},
		{"renewed", &Renewed{Certificate: fakeDER(0x05, 420)}},
	}
}

// goldenMessage returns the golden message called name.
func goldenMessage(t testing.TB, name string) Message {
	t.Helper()
	for _, g := range goldenMessages() {
		if g.name == name {
			return g.msg
		}
	}
	t.Fatalf("no golden message %q", name)
	return nil
}

// fakeDER returns n deterministic bytes that start like a DER SEQUENCE. The
// protocol carries certificates and CSRs as opaque bytes, so they need not
// parse.
func fakeDER(seed byte, n int) []byte {
	b := make([]byte, n)
	b[0], b[1], b[2], b[3] = 0x30, 0x82, byte((n-4)>>8), byte(n-4)
	x := uint32(seed) * 2654435761
	for i := 4; i < n; i++ {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// lcg is a tiny deterministic pseudo-random source for test payloads.
type lcg uint64

func (l *lcg) next(n int) int {
	*l = *l*6364136223846793005 + 1442695040888963407
	return int(uint64(*l>>33) % uint64(n))
}

// processesJSON returns a process list like the processes probe's, with n
// entries, as a JSON document.
func processesJSON(n int, seed uint64) []byte {
	type proc struct {
		PID     int     `json:"pid"`
		PPID    int     `json:"ppid"`
		User    string  `json:"user"`
		Name    string  `json:"name"`
		Cmdline string  `json:"cmdline"`
		State   string  `json:"state"`
		CPU     float64 `json:"cpu_percent"`
		RSS     uint64  `json:"rss_bytes"`
		Threads int     `json:"threads"`
		Started int64   `json:"started"`
	}
	names := []string{"systemd", "sshd", "nginx", "postgres", "node", "python3", "containerd", "dockerd", "cron", "rsyslogd", "journald", "bash", "java", "redis-server"}
	users := []string{"root", "www-data", "postgres", "app", "syslog"}
	states := []string{"S", "R", "S", "S", "I", "D"}
	r := lcg(seed)
	procs := make([]proc, n)
	for i := range procs {
		name := names[r.next(len(names))]
		procs[i] = proc{
			PID:     100 + i*7 + r.next(7),
			PPID:    1 + r.next(100),
			User:    users[r.next(len(users))],
			Name:    name,
			Cmdline: fmt.Sprintf("/usr/bin/%s --config /etc/%s/%s.conf --workers %d", name, name, name, 1+r.next(16)),
			State:   states[r.next(len(states))],
			CPU:     float64(r.next(10000)) / 100,
			RSS:     uint64(1+r.next(1<<14)) << 12,
			Threads: 1 + r.next(64),
			Started: testBootEpoch + int64(r.next(86400)),
		}
	}
	return mustJSON(procs)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// frame builds a frame by hand, bypassing Append, so tests can put anything
// in the header and payload.
func frame(t Type, flags byte, payload []byte) []byte {
	b := []byte{magic, Version, byte(t), flags}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// rawFrame encodes v as CBOR and frames it uncompressed as type t, without
// Append and without validation, so invalid messages can be put on the wire.
func rawFrame(tb testing.TB, t Type, v any) []byte {
	tb.Helper()
	p, err := encMode.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return frame(t, 0, p)
}

func mustAppend(tb testing.TB, m Message) []byte {
	tb.Helper()
	b, err := Append(nil, m)
	if err != nil {
		tb.Fatalf("Append(%s): %v", m.Type(), err)
	}
	return b
}

// sentinels are the errors every decoding failure wraps.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrBadFrame", ErrBadFrame},
	{"ErrFrameTooLarge", ErrFrameTooLarge},
	{"ErrVersion", ErrVersion},
	{"ErrInvalid", ErrInvalid},
}

// classify returns the names of the sentinels err wraps.
func classify(err error) []string {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	return names
}

// nilEmpty sets every empty slice reachable from v (a pointer) to nil. CBOR
// tells an empty array or byte string from an absent one; the Go values do
// too, but Sonde gives both the same meaning and omitempty encodes both the
// same way, so comparisons across a re-encoding ignore the difference.
func nilEmpty(v any) {
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			if v.Len() == 0 {
				if !v.IsNil() && v.CanSet() {
					v.SetZero()
				}
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
}

// splitFrame returns the header and the payload of an encoded frame, the
// payload inflated when the frame is compressed.
func splitFrame(tb testing.TB, b []byte) (Header, []byte) {
	tb.Helper()
	hd, err := ParseHeader(b)
	if err != nil {
		tb.Fatalf("ParseHeader: %v", err)
	}
	if len(b) != HeaderSize+int(hd.Length) {
		tb.Fatalf("frame is %d bytes, header says %d+%d", len(b), HeaderSize, hd.Length)
	}
	p := b[HeaderSize:]
	if hd.Flags&FlagDeflate != 0 {
		if p, err = inflate(nil, p, hd.Type); err != nil {
			tb.Fatalf("inflate: %v", err)
		}
	}
	return hd, bytes.Clone(p)
}

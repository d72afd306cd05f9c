package protocol

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// header builds a frame header from its raw fields.
func header(mg, version byte, t Type, flags byte, length uint32) []byte {
	b := []byte{mg, version, byte(t), flags}
	return binary.BigEndian.AppendUint32(b, length)
}

// deflateBytes compresses p as a raw DEFLATE stream.
func deflateBytes(tb testing.TB, p []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// zeros returns a DEFLATE stream of n zero bytes, written in chunks so that
// building it does not hold n bytes.
func zeros(n int) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	w.Close()
	return buf.Bytes()
}

var (
	bomb       = sync.OnceValue(func() []byte { return zeros(40 << 20) })
	bombAtMax  = sync.OnceValue(func() []byte { return zeros(MaxDecodedSize) })
	bombPastBy = sync.OnceValue(func() []byte { return zeros(MaxDecodedSize + 1) })
)

// allocated returns the bytes f allocates on the heap. Tests that use it do
// not run in parallel, so the figure is f's own, give or take the runtime's
// background work.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkSentinel fails unless err wraps want and no other decoding sentinel.
func checkSentinel(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %v", err, want)
	}
	if got := classify(err); len(got) != 1 {
		t.Fatalf("error %q wraps %v, want only %v", err, got, want)
	}
}

func TestDecodeBadFrames(t *testing.T) {
	snap := mustAppend(t, goldenMessage(t, "snapshot"))
	snapPayload := snap[HeaderSize:]
	big := mustAppend(t, goldenMessage(t, "snapshot-deflate"))
	bigPayload := big[HeaderSize:]
	validCBOR := snapPayload

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		// Header.
		{"empty input", nil, ErrBadFrame},
		{"short header", snap[:HeaderSize-1], ErrBadFrame},
		{"one byte", []byte{magic}, ErrBadFrame},
		{"bad magic", append(header('s', Version, TypeSnapshot, 0, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"zero magic", append(header(0, Version, TypeSnapshot, 0, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"version 0", append(header(magic, 0, TypeSnapshot, 0, uint32(len(snapPayload))), snapPayload...), ErrVersion},
		{"version 2", append(header(magic, 2, TypeSnapshot, 0, uint32(len(snapPayload))), snapPayload...), ErrVersion},
		{"version 255", append(header(magic, 255, TypeSnapshot, 0, uint32(len(snapPayload))), snapPayload...), ErrVersion},
		{"type 0", append(header(magic, Version, 0, 0, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"type 9", append(header(magic, Version, 9, 0, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"type 255", append(header(magic, Version, 255, 0, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"unknown flag 0x02", append(header(magic, Version, TypeSnapshot, 0x02, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"unknown flag 0x80", append(header(magic, Version, TypeSnapshot, 0x80, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"all flags", append(header(magic, Version, TypeSnapshot, 0xff, uint32(len(snapPayload))), snapPayload...), ErrBadFrame},
		{"length MaxFrameSize+1", header(magic, Version, TypeSnapshot, 0, MaxFrameSize+1), ErrFrameTooLarge},
		{"length MaxFrameSize+1 compressed", header(magic, Version, TypeSnapshot, FlagDeflate, MaxFrameSize+1), ErrFrameTooLarge},
		{"length 2^32-1", header(magic, Version, TypeSnapshot, 0, 1<<32-1), ErrFrameTooLarge},

		// Payload length.
		{"truncated payload", snap[:len(snap)-1], ErrBadFrame},
		{"header only", snap[:HeaderSize], ErrBadFrame},
		{"length MaxFrameSize, no payload", header(magic, Version, TypeSnapshot, 0, MaxFrameSize), ErrBadFrame},
		{"truncated compressed payload", big[:len(big)-10], ErrBadFrame},
		{"empty payload", frame(TypeSnapshot, 0, nil), ErrBadFrame},

		// CBOR.
		{"garbage CBOR", frame(TypeSnapshot, 0, []byte{0xff, 0xfe, 0xfd}), ErrBadFrame},
		{"text", frame(TypeSnapshot, 0, []byte("hello, collector")), ErrBadFrame},
		{"JSON instead of CBOR", frame(TypeAck, 0, []byte(`{"1":"ag-1","3":1}`)), ErrBadFrame},
		{"array instead of map", frame(TypeAck, 0, []byte{0x83, 0x61, 'a', 0x01, 0x01}), ErrBadFrame},
		{"truncated map", frame(TypeSnapshot, 0, validCBOR[:len(validCBOR)-3]), ErrBadFrame},
		{"trailing bytes", frame(TypeSnapshot, 0, append(slices.Clone(validCBOR), 0x00)), ErrBadFrame},
		{"two messages in one payload", frame(TypeSnapshot, 0, append(slices.Clone(validCBOR), validCBOR...)), ErrBadFrame},
		{"wrong field type", rawFrame(t, TypeAck, map[int]any{1: "ag-1", 3: "one"}), ErrBadFrame},
		{"negative seq", rawFrame(t, TypeAck, map[int]any{1: "ag-1", 3: -1}), ErrBadFrame},
		{"kind overflows uint8", rawFrame(t, TypeSnapshot, map[int]any{2: 257, 3: "ag-1", 5: 1, 6: 1}), ErrBadFrame},
		{"float for an integer", rawFrame(t, TypeAck, map[int]any{1: "ag-1", 3: 1.5}), ErrBadFrame},
		{"duplicate map key", frame(TypeAck, 0, []byte{0xa3, 0x01, 0x61, 'a', 0x03, 0x01, 0x03, 0x02}), ErrBadFrame},
		{"indefinite-length map", frame(TypeAck, 0, []byte{0xbf, 0x01, 0x61, 'a', 0x03, 0x01, 0xff}), ErrBadFrame},
		{"indefinite-length string", frame(TypeAck, 0, []byte{0xa2, 0x01, 0x7f, 0x61, 'a', 0xff, 0x03, 0x01}), ErrBadFrame},
		{"tag", frame(TypeAck, 0, []byte{0xa2, 0x01, 0xc0, 0x61, 'a', 0x03, 0x01}), ErrBadFrame},
		{"nesting too deep", rawFrame(t, TypeAck, map[int]any{1: "ag-1", 3: 1, 99: nested(12)}), ErrBadFrame},
		{"array length past the limit", frame(TypeSnapshot, 0, []byte{0xa1, 0x07, 0x9a, 0xff, 0xff, 0xff, 0xff}), ErrBadFrame},
		{"map size past the limit", frame(TypeSnapshot, 0, []byte{0xba, 0x00, 0x10, 0x00, 0x00}), ErrBadFrame},
		{"byte string longer than the payload", frame(TypeEnroll, 0, []byte{0xa1, 0x02, 0x5a, 0x7f, 0xff, 0xff, 0xff, 0x00}), ErrBadFrame},
		// Text strings are checked for UTF-8 by the CBOR decoder, before
		// validation: invalid UTF-8 in one is a malformed frame.
		{"invalid UTF-8 in a text string", rawFrame(t, TypeError, &Error{Code: 400, Message: "bad \xff byte"}), ErrBadFrame},
		{"invalid UTF-8 in a probe name", rawFrame(t, TypeHello, map[int]any{1: "ag-1", 2: "1", 3: []byte{1}, 6: []string{"cp\xc3"}}), ErrBadFrame},

		// Compression.
		{"deflate flag on plain CBOR", frame(TypeSnapshot, FlagDeflate, snapPayload), ErrBadFrame},
		{"deflate stream cut short", frame(TypeSnapshot, FlagDeflate, bigPayload[:len(bigPayload)/2]), ErrBadFrame},
		{"empty deflate stream", frame(TypeSnapshot, FlagDeflate, nil), ErrBadFrame},
		{"garbage inside deflate", frame(TypeSnapshot, FlagDeflate, deflateBytes(t, []byte("not CBOR at all"))), ErrBadFrame},
		{"invalid message inside deflate", frame(TypeAck, FlagDeflate, deflateBytes(t, mustMarshal(t, &Ack{AgentID: "ag-1"}))), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := Decode(tt.in)
			checkSentinel(t, err, tt.want)
			if m != nil {
				t.Errorf("Decode returned %v with the error", m)
			}
			// A frame whose header and length are sound reports its
			// length even when its payload is refused.
			if n != 0 && n != len(tt.in) {
				t.Errorf("Decode used %d of %d bytes", n, len(tt.in))
			}
		})
	}
}

// nested returns arrays nested depth deep.
func nested(depth int) any {
	var v any = 1
	for range depth {
		v = []any{v}
	}
	return v
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeInvalidMessages(t *testing.T) {
	snapshot := func(edit func(*Snapshot)) Message {
		m := goldenMessage(t, "snapshot").(*Snapshot)
		edit(m)
		return m
	}
	probes := func(n int, name func(int) string) []ProbeResult {
		r := make([]ProbeResult, n)
		for i := range r {
			r[i] = ProbeResult{Name: name(i), Data: []byte(`{}`), Duration: 1}
		}
		return r
	}
	names := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = probeNameN(i)
		}
		return s
	}

	tests := []struct {
		name string
		msg  Message
	}{
		{"probe name upper case", snapshot(func(m *Snapshot) { m.Probes[0].Name = "Memory" })},
		{"probe name starts with a digit", snapshot(func(m *Snapshot) { m.Probes[0].Name = "1memory" })},
		{"probe name with an underscore", snapshot(func(m *Snapshot) { m.Probes[0].Name = "mem_info" })},
		{"probe name with a slash", snapshot(func(m *Snapshot) { m.Probes[0].Name = "../memory" })},
		{"probe name too long", snapshot(func(m *Snapshot) { m.Probes[0].Name = "m" + strings.Repeat("e", MaxProbeNameLen) })},
		{"empty probe name", snapshot(func(m *Snapshot) { m.Probes[0].Name = "" })},
		{"empty agent id", snapshot(func(m *Snapshot) { m.AgentID = "" })},
		{"agent id with a space", snapshot(func(m *Snapshot) { m.AgentID = "agent 1" })},
		{"agent id with a slash", snapshot(func(m *Snapshot) { m.AgentID = "../../etc/passwd" })},
		{"agent id not ASCII", snapshot(func(m *Snapshot) { m.AgentID = "agënt" })},
		{"agent id too long", snapshot(func(m *Snapshot) { m.AgentID = strings.Repeat("a", MaxIDLen+1) })},
		{"request id with a colon", snapshot(func(m *Snapshot) { m.RequestID = "rq:1" })},
		{"seq 0", snapshot(func(m *Snapshot) { m.Seq = 0 })},
		{"kind 0", snapshot(func(m *Snapshot) { m.Kind = 0 })},
		{"kind 3", snapshot(func(m *Snapshot) { m.Kind = 3 })},
		{"no capture time", snapshot(func(m *Snapshot) { m.CapturedAt = 0 })},
		{"probe data cut short", snapshot(func(m *Snapshot) { m.Probes[0].Data = []byte(`{"total":`) })},
		{"probe data NaN", snapshot(func(m *Snapshot) { m.Probes[0].Data = []byte(`NaN`) })},
		{"probe data two documents", snapshot(func(m *Snapshot) { m.Probes[0].Data = []byte(`{"a":1}{"b":2}`) })},
		{"probe data CBOR", snapshot(func(m *Snapshot) { m.Probes[0].Data = []byte{0xa1, 0x01, 0x02} })},
		{"probe data invalid UTF-8", snapshot(func(m *Snapshot) { m.Probes[0].Data = []byte("{\"path\":\"/tmp/\xff\xfe\"}") })},
		{"probe data too large", snapshot(func(m *Snapshot) {
			m.Probes[0].Data = []byte(`"` + strings.Repeat("a", MaxProbeData-1) + `"`)
		})},
		{"probe error too long", snapshot(func(m *Snapshot) { m.Probes[1].Error = strings.Repeat("e", MaxTextLen+1) })},
		{"negative duration", snapshot(func(m *Snapshot) { m.Probes[0].Duration = -1 })},
		{"duplicate probe names", snapshot(func(m *Snapshot) { m.Probes[1].Name = m.Probes[0].Name })},
		{"too many probe results", snapshot(func(m *Snapshot) { m.Probes = probes(MaxProbes+1, probeNameN) })},
		{"ack seq 0", &Ack{AgentID: testAgentID, BootEpoch: testBootEpoch}},
		{"ack bad agent id", &Ack{AgentID: "ag/1", Seq: 1}},
		{"hello no versions", &Hello{AgentID: testAgentID, AgentVersion: "0.1.0"}},
		{"hello 17 versions", &Hello{AgentID: testAgentID, Versions: make([]uint8, 17)}},
		{"hello bad probe name", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Probes: []string{"cpu", "CPU"}}},
		{"hello too many probes", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Probes: names(MaxProbes + 1)}},
		{"hello agent version too long", &Hello{AgentID: testAgentID, AgentVersion: strings.Repeat("1", MaxTextLen+1), Versions: []uint8{1}}},
		{"hello negative cpus", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Facts: Facts{CPUs: -1}}},
		{"hello hostname too long", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Facts: Facts{Hostname: strings.Repeat("h", MaxTextLen+1)}}},
		{"welcome negative interval", &Welcome{CollectorTime: 1, HealthInterval: -1}},
		{"request no deadline", &SnapshotRequest{RequestID: testRequestID}},
		{"request empty id", &SnapshotRequest{Deadline: 1}},
		{"request too many probes", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Probes: names(MaxProbes + 1)}},
		{"request too many process names", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: names(MaxProcessNames + 1)}},
		{"request names a probe twice", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Probes: []string{"network", "cpu", "network"}}},
		{"hello names a probe twice", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Probes: []string{"cpu", "cpu"}}},
		{"request process name too long", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{strings.Repeat("j", MaxProcessNameLen+1)}}},
		{"request empty process name", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"java", ""}}},
		{"request process name with a newline", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"java\nfake log line"}}},
		{"request process name with an escape", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"\x1b]0;pwned\x07"}}},
		{"request process name with a NUL", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"java\x00"}}},
		{"request process name with a bidi override", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"exe.\u202egpj"}}},
		{"request process name a path", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{"/usr/bin/java"}}},
		{"request process name a Windows path", &SnapshotRequest{RequestID: testRequestID, Deadline: 1, Processes: []string{`C:\Program Files\app.exe`}}},
		{"error message too long", &Error{Code: CodeInternal, Message: strings.Repeat("x", MaxTextLen+1)}},
		{"error bad request id", &Error{Code: CodeInternal, Message: "x", RequestID: "a b"}},
		{"enroll no token", &Enroll{CSR: fakeDER(1, 100)}},
		{"enroll token too long", &Enroll{Token: strings.Repeat("t", MaxTokenLen+1), CSR: fakeDER(1, 100)}},
		{"enroll no csr", &Enroll{Token: "t"}},
		{"enroll csr too long", &Enroll{Token: "t", CSR: fakeDER(1, MaxCSRLen+1)}},
		{"enrolled no certificate", &Enrolled{AgentID: testAgentID, CA: fakeDER(3, 100)}},
		{"enrolled ca too long", &Enrolled{AgentID: testAgentID, Certificate: fakeDER(2, 100), CA: fakeDER(3, MaxCertLen+1)}},
		{"enrolled bad agent id", &Enrolled{AgentID: "", Certificate: fakeDER(2, 100), CA: fakeDER(3, 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.msg.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want %v", err, ErrInvalid)
			}
			b := rawFrame(t, tt.msg.Type(), tt.msg)
			m, _, err := Decode(b)
			checkSentinel(t, err, ErrInvalid)
			if m != nil {
				t.Errorf("Decode returned %v with the error", m)
			}
			if !strings.HasPrefix(err.Error(), tt.msg.Type().String()+": ") {
				t.Errorf("error %q does not name the message type", err)
			}
		})
	}
}

// TestValidateUTF8 covers text that can only be invalid UTF-8 in a message
// built in Go: on the wire the CBOR decoder refuses it first.
func TestValidateUTF8(t *testing.T) {
	bad := "web\xff01"
	tests := []struct {
		name string
		msg  Message
	}{
		{"hostname", &Hello{AgentID: testAgentID, Versions: []uint8{1}, Facts: Facts{Hostname: bad}}},
		{"cpu model", &Enroll{Token: "t", CSR: []byte{1}, Facts: Facts{CPUModel: bad}}},
		{"agent version", &Hello{AgentID: testAgentID, AgentVersion: bad, Versions: []uint8{1}}},
		{"error message", &Error{Code: CodeBadRequest, Message: bad}},
		{"probe error", &Snapshot{Kind: KindFull, AgentID: testAgentID, Seq: 1, CapturedAt: 1, Probes: []ProbeResult{{Name: "cpu", Error: bad}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.msg.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want %v", err, ErrInvalid)
			}
		})
	}
}

func TestValidNames(t *testing.T) {
	for _, s := range []string{"a", "cpu", "disk-io", "x9", "a" + strings.Repeat("b", MaxProbeNameLen-1)} {
		if !ValidProbeName(s) {
			t.Errorf("ValidProbeName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-a", "9a", "A", "cpu.load", "cpu load", "ç", "a" + strings.Repeat("b", MaxProbeNameLen)} {
		if ValidProbeName(s) {
			t.Errorf("ValidProbeName(%q) = true", s)
		}
	}
	for _, s := range []string{"a", "A-b_c.9", testAgentID, strings.Repeat("z", MaxIDLen)} {
		if !ValidID(s) {
			t.Errorf("ValidID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a/b", "a:b", "é", "a\x00", strings.Repeat("z", MaxIDLen+1)} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}

// TestFrameTooLargeFromHeader checks that a length past MaxFrameSize is
// refused from the eight header bytes: nothing after them is read and no
// payload buffer is allocated.
func TestFrameTooLargeFromHeader(t *testing.T) {
	for _, length := range []uint32{MaxFrameSize + 1, 1 << 31, 1<<32 - 1} {
		h := header(magic, Version, TypeSnapshot, FlagDeflate, length)
		var err error
		n := allocated(func() {
			_, err = Read(io.MultiReader(bytes.NewReader(h), readerFunc(func([]byte) (int, error) {
				t.Error("Read read past the header")
				return 0, io.EOF
			})))
		})
		checkSentinel(t, err, ErrFrameTooLarge)
		if n > 64<<10 {
			t.Errorf("length %d: Read allocated %d bytes before refusing", length, n)
		}
		n = allocated(func() { _, _, err = Decode(h) })
		checkSentinel(t, err, ErrFrameTooLarge)
		if n > 64<<10 {
			t.Errorf("length %d: Decode allocated %d bytes before refusing", length, n)
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestCompressionBomb sends a 40 KB DEFLATE stream that inflates to 40 MiB
// of zeros, past MaxDecodedSize. It must be refused as too large, and the
// decoder must not hold the output to find that out.
func TestCompressionBomb(t *testing.T) {
	b := frame(TypeSnapshot, FlagDeflate, bomb())
	if len(b) > MaxFrameSize {
		t.Fatalf("bomb is %d bytes, not under MaxFrameSize", len(b))
	}
	var err error
	n := allocated(func() { _, _, err = Decode(b) })
	checkSentinel(t, err, ErrFrameTooLarge)
	t.Logf("a %d byte frame inflating to 40 MiB: Decode allocated %d bytes", len(b), n)
	// The bound: the payload limit is 32 MiB, and a decoder that buffers the
	// output while inflating allocates several times that. Refusing the bomb
	// must cost well under the limit itself.
	if limit := uint64(MaxDecodedSize / 8); n > limit {
		t.Errorf("Decode allocated %d bytes refusing a bomb, want under %d (MaxDecodedSize is %d)", n, limit, MaxDecodedSize)
	}

	n = allocated(func() { _, err = Read(bytes.NewReader(b)) })
	checkSentinel(t, err, ErrFrameTooLarge)
	if limit := uint64(MaxDecodedSize / 8); n > limit {
		t.Errorf("Read allocated %d bytes refusing a bomb, want under %d", n, limit)
	}
}

// TestDecodedSizeBoundary checks the limit is exact: a payload that inflates
// to MaxDecodedSize bytes is inflated (and then refused as CBOR, since zeros
// are not a message), one byte more is too large.
func TestDecodedSizeBoundary(t *testing.T) {
	var err error
	n := allocated(func() { _, _, err = Decode(frame(TypeSnapshot, FlagDeflate, bombAtMax())) })
	checkSentinel(t, err, ErrBadFrame)
	if limit := uint64(MaxDecodedSize + MaxDecodedSize/4); n > limit {
		t.Errorf("inflating exactly MaxDecodedSize allocated %d bytes, want under %d", n, limit)
	}
	_, _, err = Decode(frame(TypeSnapshot, FlagDeflate, bombPastBy()))
	checkSentinel(t, err, ErrFrameTooLarge)
}

func TestAppendLimits(t *testing.T) {
	// A message that compresses under MaxFrameSize but would inflate past
	// MaxDecodedSize: the peer would refuse it, so Append must.
	m := &Snapshot{Kind: KindFull, AgentID: testAgentID, Seq: 1, CapturedAt: 1}
	doc := []byte("[" + strings.Repeat("0,", (MaxProbeData-4)/2) + "0]")
	for i := 0; len(m.Probes)*len(doc) <= MaxDecodedSize; i++ {
		m.Probes = append(m.Probes, ProbeResult{Name: probeNameN(i), Data: doc})
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("test message is not valid: %v", err)
	}
	b, err := Append(nil, m)
	if err == nil {
		_, _, derr := Decode(b)
		t.Fatalf("Append made a %d byte frame of a message past MaxDecodedSize; Decode says %v", len(b), derr)
	}
	checkSentinel(t, err, ErrFrameTooLarge)
	if b != nil {
		t.Errorf("Append returned %d bytes with the error", len(b))
	}

	// A message that does not compress under MaxFrameSize.
	r := lcg(1)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	noise := make([]byte, MaxProbeData-2)
	for i := range noise {
		noise[i] = alphabet[r.next(len(alphabet))]
	}
	doc = []byte(`"` + string(noise) + `"`)
	m.Probes = nil
	for i := 0; len(m.Probes)*len(doc)*3/4 <= MaxFrameSize; i++ {
		m.Probes = append(m.Probes, ProbeResult{Name: probeNameN(i), Data: doc})
	}
	prefix := []byte("kept")
	b, err = Append(prefix, m)
	checkSentinel(t, err, ErrFrameTooLarge)
	if string(b) != "kept" {
		t.Errorf("Append returned %q with the error, want the buffer it was given", b)
	}
}

// probeNameN returns a distinct valid probe name for each i below 676.
func probeNameN(i int) string { return "probe-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func TestAppendAppends(t *testing.T) {
	var b []byte
	var want []Message
	for _, g := range goldenMessages() {
		var err error
		if b, err = Append(b, g.msg); err != nil {
			t.Fatal(err)
		}
		want = append(want, g.msg)
	}
	for i, w := range want {
		m, n, err := Decode(b)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !reflect.DeepEqual(m, w) {
			t.Errorf("frame %d = %#v, want %#v", i, m, w)
		}
		b = b[n:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes left", len(b))
	}
}

func TestReadStream(t *testing.T) {
	msgs := goldenMessages()
	check := func(t *testing.T, r io.Reader) {
		for i, g := range msgs {
			m, err := Read(r)
			if err != nil {
				t.Fatalf("frame %d (%s): %v", i, g.name, err)
			}
			if !reflect.DeepEqual(m, g.msg) {
				t.Errorf("frame %d = %#v, want %#v", i, m, g.msg)
			}
		}
		if m, err := Read(r); err != io.EOF {
			t.Errorf("Read at the end = %v, %v; want io.EOF", m, err)
		}
	}

	t.Run("bytes.Reader", func(t *testing.T) {
		var buf bytes.Buffer
		for _, g := range msgs {
			if err := Write(&buf, g.msg); err != nil {
				t.Fatal(err)
			}
		}
		check(t, bytes.NewReader(buf.Bytes()))
	})

	t.Run("io.Pipe", func(t *testing.T) {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			for _, g := range msgs {
				if err := Write(pw, g.msg); err != nil {
					done <- err
					pw.CloseWithError(err)
					return
				}
			}
			done <- pw.Close()
		}()
		check(t, pr)
		if err := <-done; err != nil {
			t.Fatalf("writer: %v", err)
		}
	})

	t.Run("one byte at a time", func(t *testing.T) {
		var buf bytes.Buffer
		for _, g := range msgs {
			if err := Write(&buf, g.msg); err != nil {
				t.Fatal(err)
			}
		}
		check(t, &oneByteReader{buf.Bytes()})
	})
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReadErrors(t *testing.T) {
	snap := mustAppend(t, goldenMessage(t, "snapshot"))

	// A stream that ends between frames ends cleanly; one that ends inside a
	// header is cut short.
	if _, err := Read(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("Read(empty) = %v, want io.EOF", err)
	}
	if _, err := Read(bytes.NewReader(snap[:3])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Read(3 bytes) = %v, want io.ErrUnexpectedEOF", err)
	}
	_, err := Read(bytes.NewReader(snap[:len(snap)-1]))
	checkSentinel(t, err, ErrBadFrame)
	_, err = Read(bytes.NewReader(snap[:HeaderSize]))
	checkSentinel(t, err, ErrBadFrame)

	// A transport error in the header is returned as it is.
	boom := errors.New("connection reset")
	_, err = Read(readerFunc(func([]byte) (int, error) { return 0, boom }))
	if !errors.Is(err, boom) {
		t.Errorf("Read = %v, want %v", err, boom)
	}

	// Header checks apply to Read as to Decode.
	bad := slices.Clone(snap)
	bad[1] = 2
	_, err = Read(bytes.NewReader(bad))
	checkSentinel(t, err, ErrVersion)
	bad = slices.Clone(snap)
	bad[3] = 0x40
	_, err = Read(bytes.NewReader(bad))
	checkSentinel(t, err, ErrBadFrame)
	_, err = Read(bytes.NewReader(rawFrame(t, TypeAck, &Ack{AgentID: testAgentID})))
	checkSentinel(t, err, ErrInvalid)
}

func TestReadAs(t *testing.T) {
	stream := func(msgs ...Message) io.Reader {
		var buf bytes.Buffer
		for _, m := range msgs {
			if err := Write(&buf, m); err != nil {
				t.Fatal(err)
			}
		}
		return &buf
	}

	t.Run("wanted type", func(t *testing.T) {
		want := goldenMessage(t, "snapshot").(*Snapshot)
		got, err := ReadAs[*Snapshot](stream(want))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})

	t.Run("error message becomes a Go error", func(t *testing.T) {
		sent := &Error{Code: CodeUnavailable, Message: "store is read-only", RequestID: testRequestID}
		got, err := ReadAs[*Snapshot](stream(sent))
		if got != nil {
			t.Errorf("got %v with the error", got)
		}
		var perr *Error
		if !errors.As(err, &perr) {
			t.Fatalf("error %v (%T) is not a *Error", err, err)
		}
		if !reflect.DeepEqual(perr, sent) {
			t.Errorf("error = %#v, want %#v", perr, sent)
		}
		if err.Error() != "store is read-only (code 503)" {
			t.Errorf("Error() = %q", err.Error())
		}
		if classify(err) != nil {
			t.Errorf("a peer's Error wraps %v; it is not a decoding failure", classify(err))
		}
	})

	t.Run("error message read as an error", func(t *testing.T) {
		sent := &Error{Code: CodeBadRequest, Message: "no"}
		got, err := ReadAs[*Error](stream(sent))
		if err != nil {
			t.Fatalf("ReadAs[*Error] = %v", err)
		}
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("got %#v, want %#v", got, sent)
		}
	})

	t.Run("wrong type", func(t *testing.T) {
		got, err := ReadAs[*Snapshot](stream(goldenMessage(t, "ack")))
		checkSentinel(t, err, ErrBadFrame)
		if got != nil {
			t.Errorf("got %v with the error", got)
		}
		if !strings.Contains(err.Error(), "got ack, want snapshot") {
			t.Errorf("error %q does not name both types", err)
		}
	})

	t.Run("read error", func(t *testing.T) {
		if _, err := ReadAs[*Hello](stream()); err != io.EOF {
			t.Errorf("ReadAs on an empty stream = %v, want io.EOF", err)
		}
		_, err := ReadAs[*Hello](bytes.NewReader(header(magic, 9, TypeHello, 0, 0)))
		checkSentinel(t, err, ErrVersion)
	})

	t.Run("in sequence", func(t *testing.T) {
		r := stream(goldenMessage(t, "hello"), goldenMessage(t, "snapshot"), goldenMessage(t, "ack"))
		if _, err := ReadAs[*Hello](r); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadAs[*Snapshot](r); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadAs[*Ack](r); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTypeNumbers pins the wire numbers and names of the message types.
func TestTypeNumbers(t *testing.T) {
	want := map[Type]string{
		1: "hello", 2: "welcome", 3: "snapshot-request", 4: "snapshot",
		5: "ack", 6: "error", 7: "enroll", 8: "enrolled", 9: "renew", 10: "renewed",
		11: "introduce",
	}
	for i := range 256 {
		typ := Type(i)
		m := newMessage(typ)
		name, known := want[typ]
		if (m != nil) != known {
			t.Errorf("newMessage(%d) = %v, want known %v", typ, m, known)
			continue
		}
		if !known {
			continue
		}
		if m.Type() != typ {
			t.Errorf("newMessage(%d).Type() = %d", typ, m.Type())
		}
		if typ.String() != name {
			t.Errorf("Type(%d).String() = %q, want %q", typ, typ.String(), name)
		}
	}
	if Type(200).String() != "type(200)" || Kind(7).String() != "kind(7)" || KindFull.String() != "full" || KindHealth.String() != "health" {
		t.Error("String of an unknown type or kind")
	}
}

// cutReader returns its bytes, then err: a stream the peer reset.
type cutReader struct {
	b   []byte
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, c.err
	}
	n := copy(p, c.b)
	c.b = c.b[n:]
	return n, nil
}

// TestReadKeepsTheCause: a stream that fails mid-frame, in the header or
// in the payload, gives an error that still is the stream's (the
// collector tells an agent that hung up from one that sent garbage by it),
// and a payload cut short is a bad frame too.
func TestReadKeepsTheCause(t *testing.T) {
	reset := errors.New("stream reset by peer")
	raw := mustAppend(t, goldenMessage(t, "ack"))
	for _, n := range []int{3, HeaderSize + 1, len(raw) - 1} {
		_, err := Read(&cutReader{b: raw[:n], err: reset})
		if !errors.Is(err, reset) {
			t.Errorf("cut after %d bytes: %v, want it to wrap the stream's error", n, err)
		}
		if n > HeaderSize && !errors.Is(err, ErrBadFrame) {
			t.Errorf("cut after %d bytes, in the payload: %v, want a bad frame", n, err)
		}
	}
}

// TestReadKeepsNoBuffer: Read reads and inflates frames into buffers it
// uses again, so a message it returned must hold nothing of them: reading
// the next frames (other data of the same sizes) leaves it as it was.
func TestReadKeepsNoBuffer(t *testing.T) {
	for _, s := range benchSnapshots() {
		first := mustAppend(t, s.msg)
		m, err := Read(bytes.NewReader(first))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		other := *s.msg
		other.AgentID, other.Probes = strings.Repeat("z", len(s.msg.AgentID)), slices.Clone(s.msg.Probes)
		for i := range other.Probes {
			p := &other.Probes[i]
			p.Name, p.Data = probeNameN(i), bytes.Repeat([]byte(" "), max(len(p.Data), 1))
			p.Data[0] = '0'
		}
		next := mustAppend(t, &other)
		for range 20 {
			if _, err := Read(bytes.NewReader(next)); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		if !reflect.DeepEqual(m, s.msg) {
			t.Errorf("%s: the message Read returned changed as further frames were read", s.name)
		}
	}
}

package protocol

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The limits are exact: what one side may send at the limit, the other
// side takes, and one byte more is refused on both.

// ofSize sets the byte string *field of m so that m's CBOR payload is
// exactly n bytes, filled by fill. Append does not validate, so the field
// may be far past what Validate allows.
func ofSize[M Message](t *testing.T, m M, field *[]byte, n int, fill func([]byte)) M {
	t.Helper()
	*field = make([]byte, 1<<17)
	// Twice: the field's length takes fewer bytes below 64 KiB.
	for range 2 {
		*field = make([]byte, len(*field)+n-len(mustMarshal(t, m)))
	}
	fill(*field)
	if got := len(mustMarshal(t, m)); got != n {
		t.Fatalf("built a %d byte payload, want %d", got, n)
	}
	return m
}

// snapshotOfSize returns a Snapshot, the largest message, whose CBOR
// payload is exactly n bytes, its one probe's data filled by fill.
func snapshotOfSize(t *testing.T, n int, fill func([]byte)) *Snapshot {
	m := &Snapshot{Kind: KindFull, AgentID: testAgentID, Seq: 1, CapturedAt: 1, Probes: []ProbeResult{{Name: "cpu"}}}
	return ofSize(t, m, &m.Probes[0].Data, n, fill)
}

func zeroFill([]byte) {}

// TestCompressionThreshold: a payload of compressAbove bytes goes plain,
// one byte more is compressed.
func TestCompressionThreshold(t *testing.T) {
	for _, tc := range []struct {
		size  int
		flags byte
	}{{compressAbove - 1, 0}, {compressAbove, 0}, {compressAbove + 1, FlagDeflate}} {
		// Past 255 bytes, the message's length takes as many bytes
		// whatever its size here.
		m := &Error{Code: CodeInternal, Message: strings.Repeat("x", 300)}
		m.Message = strings.Repeat("x", tc.size-len(mustMarshal(t, m))+300)
		if n := len(mustMarshal(t, m)); n != tc.size {
			t.Fatalf("built a %d byte payload, want %d", n, tc.size)
		}
		hd, p := splitFrame(t, mustAppend(t, m))
		if hd.Flags != tc.flags || len(p) != tc.size {
			t.Errorf("a %d byte payload: flags %#x, %d bytes inflated; want flags %#x", tc.size, hd.Flags, len(p), tc.flags)
		}
	}
}

// TestDecodedSizeLimitExact: Append encodes a snapshot whose payload is
// exactly MaxDecodedSize bytes, and an enroll of exactly its own decoded
// limit, and the decoder inflates them (to refuse them only for what they
// hold); one byte more and Append refuses.
func TestDecodedSizeLimitExact(t *testing.T) {
	t.Parallel()
	snap := snapshotOfSize(t, MaxDecodedSize, zeroFill)
	enroll := &Enroll{Token: "t"}
	enroll = ofSize(t, enroll, &enroll.CSR, LimitsOf(TypeEnroll).Decoded, zeroFill)
	for _, tc := range []struct {
		m     Message
		field *[]byte
	}{{snap, &snap.Probes[0].Data}, {enroll, &enroll.CSR}} {
		b, err := Append(nil, tc.m)
		if err != nil {
			t.Fatalf("a %s payload of exactly its decoded limit: %v", tc.m.Type(), err)
		}
		_, _, err = Decode(b)
		checkSentinel(t, err, ErrInvalid) // inflated and decoded; the field is too long
		*tc.field = append(*tc.field, 0)
		_, err = Append(nil, tc.m)
		checkSentinel(t, err, ErrFrameTooLarge)
	}
}

// TestFrameSizeLimitExact: Append writes a frame whose compressed payload
// is exactly MaxFrameSize bytes, which ParseHeader accepts; one byte more
// and Append refuses.
func TestFrameSizeLimitExact(t *testing.T) {
	t.Parallel()
	noise := make([]byte, MaxFrameSize+1<<16)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	// Random bytes do not compress: the compressed size grows with the
	// payload, by one byte a byte but at block boundaries.
	compressed := func(n int) (*Snapshot, int) {
		m := snapshotOfSize(t, n, func(b []byte) { copy(b, noise) })
		p, err := Deflate(mustMarshal(t, m))
		if err != nil {
			t.Fatal(err)
		}
		return m, len(p)
	}
	n := MaxFrameSize - 1024
	for range 8 {
		_, got := compressed(n)
		if got == MaxFrameSize {
			break
		}
		n += MaxFrameSize - got
	}
	m, got := compressed(n)
	if got != MaxFrameSize {
		t.Fatalf("found no payload that compresses to exactly MaxFrameSize (nearest %d)", got)
	}
	b, err := Append(nil, m)
	if err != nil {
		t.Fatalf("a frame of exactly MaxFrameSize: %v", err)
	}
	if hd, err := ParseHeader(b); err != nil || hd.Length != MaxFrameSize || hd.Flags != FlagDeflate {
		t.Fatalf("its header: %+v, %v", hd, err)
	}
	for more := n + 1; ; more++ {
		m, got := compressed(more)
		if got == MaxFrameSize {
			continue
		}
		_, err := Append(nil, m)
		checkSentinel(t, err, ErrFrameTooLarge)
		break
	}
}

// TestTruncatedPayloadSaysHowMuch: a frame cut short says how much of its
// payload arrived.
func TestTruncatedPayloadSaysHowMuch(t *testing.T) {
	b := frame(TypeAck, 0, make([]byte, 10))
	_, _, err := Decode(b[:HeaderSize+3])
	checkSentinel(t, err, ErrBadFrame)
	if !strings.Contains(err.Error(), "truncated payload (3 of 10 bytes)") {
		t.Errorf("error %q", err)
	}
}

// TestTypeNames: every wire type has a name, and only the registered
// ones have a message.
func TestTypeNames(t *testing.T) {
	names := map[string]bool{}
	for i := range 256 {
		typ := Type(i)
		name := typ.String()
		if newMessage(typ) == nil {
			if name != fmt.Sprintf("type(%d)", i) {
				t.Errorf("unknown type %d is named %q", i, name)
			}
			continue
		}
		if names[name] || strings.HasPrefix(name, "type(") {
			t.Errorf("type %d is named %q", i, name)
		}
		names[name] = true
	}
}

// TestNameBoundaries: the characters at the edges of each allowed range
// are accepted, their neighbours outside it are not.
func TestNameBoundaries(t *testing.T) {
	for _, s := range []string{"a", "z", "az09-", "a0", "a9", "za", "m-z"} {
		if !ValidProbeName(s) {
			t.Errorf("ValidProbeName(%q) = false", s)
		}
	}
	for _, c := range []string{"`", "{", "/", ":", "A", "Z", "_", "."} {
		if ValidProbeName("a"+c) || ValidProbeName(c) {
			t.Errorf("ValidProbeName accepts %q", c)
		}
	}
	for _, s := range []string{"a", "z", "A", "Z", "0", "9", "-", "_", ".", "aZ09-_.", strings.Repeat("x", MaxIDLen)} {
		if !ValidID(s) {
			t.Errorf("ValidID(%q) = false", s)
		}
	}
	for _, c := range []string{"`", "{", "@", "[", "/", ":", "+", "~", " "} {
		if ValidID(c) || ValidID("a"+c) {
			t.Errorf("ValidID accepts %q", c)
		}
	}
	for _, s := range []string{"a", "no-default-route", "a-b-c"} {
		if !ValidTrigger(s) {
			t.Errorf("ValidTrigger(%q) = false", s)
		}
	}
}

// TestValidateEdges: the smallest and largest values each message takes.
func TestValidateEdges(t *testing.T) {
	valid := []Message{
		&Welcome{CollectorTime: 1, HealthInterval: 0},
		&Error{Code: CodeUnavailable, Message: "busy", RetryAfter: 0},
		&Error{Code: CodeUnavailable, Message: "busy", RetryAfter: MaxRetryAfter.Milliseconds()},
		&Snapshot{Kind: KindHealth, AgentID: testAgentID, Seq: 1, CapturedAt: 1, Probes: []ProbeResult{{Name: "cpu", Data: []byte(`{}`), Duration: 0}}},
		&Hello{AgentID: testAgentID, Versions: []uint8{Version}, Facts: Facts{CPUs: 0}},
	}
	for _, m := range valid {
		if err := m.Validate(); err != nil {
			t.Errorf("%#v: %v", m, err)
		}
	}
	invalid := []Message{
		&Error{Code: CodeUnavailable, Message: "busy", RetryAfter: MaxRetryAfter.Milliseconds() + 1},
		&Error{Code: CodeUnavailable, Message: "busy", RetryAfter: -1},
		&SnapshotRequest{RequestID: testRequestID, Deadline: -1},
		&Snapshot{Kind: KindHealth, AgentID: testAgentID, Seq: 1, CapturedAt: -1},
	}
	for _, m := range invalid {
		if err := m.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%#v: %v, want %v", m, err, ErrInvalid)
		}
	}
	// Probe data that is not UTF-8 from its first byte says so.
	s := &Snapshot{Kind: KindHealth, AgentID: testAgentID, Seq: 1, CapturedAt: 1, Probes: []ProbeResult{{Name: "cpu", Data: []byte("\xff{}")}}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "invalid UTF-8 at byte 0") {
		t.Errorf("data invalid at byte 0: %v", err)
	}
	// A continuation byte on its own is where UTF-8 breaks.
	for in, want := range map[string]int{"a\x80": 1, "\x7f\x80": 1, "\u0080": -1} {
		if got := invalidUTF8At([]byte(in)); got != want {
			t.Errorf("invalidUTF8At(%q) = %d, want %d", in, got, want)
		}
	}
	// Untrusted IDs are quoted whole up to 40 bytes, cut beyond.
	for _, tc := range []struct{ id, shown string }{
		{strings.Repeat("a", 39) + " ", strings.Repeat("a", 39) + " \""},
		{strings.Repeat("a", 40) + " ", strings.Repeat("a", 40) + "…\""},
	} {
		err := (&Ack{AgentID: tc.id, Seq: 1}).Validate()
		if err == nil || !strings.Contains(err.Error(), "\""+tc.shown) {
			t.Errorf("an invalid ID of %d bytes: %v, want it shown as %q", len(tc.id), err, tc.shown)
		}
	}
}

// TestParseDocumentEdges: durations at both ends of the range, names cut
// short in errors, facts validated, and a document of exactly
// MaxDocument bytes taken.
func TestParseDocumentEdges(t *testing.T) {
	t.Parallel()
	doc := func(probes, facts string) string {
		return `{"kind":"health","captured_at":"2026-11-24T12:00:00Z","probes":[` + probes + `]` + facts + `}`
	}
	for _, ms := range []string{"0", "86400000"} {
		s, _, err := ParseDocument([]byte(doc(`{"name":"cpu","duration_ms":`+ms+`}`, "")), testAgentID)
		if err != nil {
			t.Errorf("duration %s ms: %v", ms, err)
		} else if s.Probes[0].Duration != map[string]int64{"0": 0, "86400000": 86400 * 1e9}[ms] {
			t.Errorf("duration %s ms: %d ns", ms, s.Probes[0].Duration)
		}
	}
	for _, tc := range []struct{ name, shown string }{
		{strings.Repeat("n", MaxProbeNameLen), strings.Repeat("n", MaxProbeNameLen) + `"`},
		{strings.Repeat("n", MaxProbeNameLen+1), strings.Repeat("n", MaxProbeNameLen) + `…"`},
	} {
		_, _, err := ParseDocument([]byte(doc(`{"name":"`+tc.name+`","duration_ms":-1}`, "")), testAgentID)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"`+tc.shown) {
			t.Errorf("a %d byte name with a bad duration: %v, want it shown as %q", len(tc.name), err, tc.shown)
		}
	}
	_, _, err := ParseDocument([]byte(doc("", `,"facts":{"hostname":"h","cpus":-1}`)), testAgentID)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "facts") {
		t.Errorf("a document with invalid facts: %v", err)
	}
	s, f, err := ParseDocument([]byte(doc("", `,"facts":{"hostname":"h","cpus":2}`)), testAgentID)
	if err != nil || f == nil || f.Hostname != "h" || s.Kind != KindHealth || s.BootEpoch != ImportedEpoch || s.Seq&1 != 1 || s.AgentID != testAgentID {
		t.Errorf("a health document with facts: %+v, %+v, %v", s, f, err)
	}

	big := []byte(doc("", ""))
	big = append(big, bytes.Repeat([]byte(" "), MaxDocument-len(big))...)
	if _, _, err := ParseDocument(big, testAgentID); err != nil {
		t.Errorf("a document of exactly MaxDocument bytes: %v", err)
	}
	_, _, err = ParseDocument(append(big, ' '), testAgentID)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("limit %d", MaxDocument)) {
		t.Errorf("a document of MaxDocument+1 bytes: %v", err)
	}
}

// TestDocumentDurations: a probe's duration is in milliseconds in the
// JSON form.
func TestDocumentDurations(t *testing.T) {
	s := &Snapshot{Kind: KindFull, AgentID: testAgentID, Seq: 1, CapturedAt: 1732458897000,
		Probes: []ProbeResult{{Name: "cpu", Duration: int64(1234567 * time.Nanosecond)}}}
	d := s.Document()
	if d.Probes[0].DurationMS != 1.234567 || d.Kind != "full" || !d.CapturedAt.Equal(time.UnixMilli(1732458897000)) {
		t.Errorf("document %+v", d)
	}
}

// TestDiscoveryEdges: a CA request is at least DiscoveryRequestSize bytes;
// an answer, its magic and the CA, is at most that.
func TestDiscoveryEdges(t *testing.T) {
	req := DiscoveryRequest()
	if len(req) != DiscoveryRequestSize || !IsDiscoveryRequest(req) || !IsDiscoveryRequest(append(req, 0)) {
		t.Errorf("a request of %d bytes and one byte more are not requests", len(req))
	}
	if IsDiscoveryRequest(req[:DiscoveryRequestSize-1]) {
		t.Error("a request one byte short is taken")
	}
	room := DiscoveryRequestSize - len(discoveryAnswer)
	if a, err := DiscoveryAnswer(make([]byte, room)); err != nil || len(a) != DiscoveryRequestSize {
		t.Errorf("a CA that just fits: %d bytes, %v", len(a), err)
	}
	if _, err := DiscoveryAnswer(make([]byte, room+1)); err == nil {
		t.Error("a CA one byte too large for discovery is answered")
	}
	if _, err := ParseDiscoveryAnswer(req); err == nil {
		t.Error("a request is taken for an answer")
	}
}

// TestCheckPin: a pin is "sha256:" and 64 hex digits, of either case.
func TestCheckPin(t *testing.T) {
	cert, err := x509.ParseCertificate(testCADER(t))
	if err != nil {
		t.Fatal(err)
	}
	pin := Pin(cert)
	if !strings.HasPrefix(pin, "sha256:") || len(pin) != 7+64 {
		t.Fatalf("Pin = %q", pin)
	}
	for _, ok := range []string{pin, "sha256:" + strings.ToUpper(pin[7:])} {
		if err := CheckPin(cert, ok); err != nil {
			t.Errorf("CheckPin(%q): %v", ok, err)
		}
	}
	other := pin[:len(pin)-1] + map[bool]string{true: "1", false: "0"}[pin[len(pin)-1] == '0']
	for _, bad := range []string{other, pin[7:], "sha1:" + pin[7:], pin + "0", pin[:len(pin)-1], ""} {
		if err := CheckPin(cert, bad); err == nil {
			t.Errorf("CheckPin(%q) accepted", bad)
		}
	}
}

// TestRequestNamingAProbeTwice: a request that names a probe twice is
// refused, saying which; 64 × network was 64 handshakes for a snapshot
// that Validate then refused. MaxProbes distinct names are taken.
func TestRequestNamingAProbeTwice(t *testing.T) {
	m := &SnapshotRequest{RequestID: testRequestID, Deadline: 1}
	for range MaxProbes {
		m.Probes = append(m.Probes, "network")
	}
	_, _, err := Decode(rawFrame(t, TypeSnapshotRequest, m))
	checkSentinel(t, err, ErrInvalid)
	if want := "snapshot-request: invalid message: probe network named twice"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	for i := range m.Probes {
		m.Probes[i] = probeNameN(i)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("%d distinct probes: %v", MaxProbes, err)
	}
}

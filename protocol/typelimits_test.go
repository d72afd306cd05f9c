package protocol

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// registeredTypes returns every message type the protocol defines.
func registeredTypes() []Type {
	var ts []Type
	for t := range registry {
		if registry[t].new != nil {
			ts = append(ts, Type(t))
		}
	}
	return ts
}

// TestEveryTypeHasLimits: every message type has limits, none larger than
// a snapshot's, and only a snapshot may be as large.
func TestEveryTypeHasLimits(t *testing.T) {
	for _, typ := range registeredTypes() {
		l := LimitsOf(typ)
		switch {
		case l.Wire <= 0 || l.Decoded <= 0:
			t.Errorf("%s has no limits: %+v", typ, l)
		case typ == TypeSnapshot && (l.Wire != MaxFrameSize || l.Decoded != MaxDecodedSize):
			t.Errorf("a snapshot's limits are %+v, want MaxFrameSize and MaxDecodedSize", l)
		case typ != TypeSnapshot && l.Decoded >= onePass:
			// inflate stops one byte past a limit below onePass.
			t.Errorf("%s may inflate to %d bytes, not under onePass", typ, l.Decoded)
		}
	}
	if l := LimitsOf(Type(200)); l != (Limits{}) {
		t.Errorf("an unknown type has limits %+v", l)
	}
}

// TestFrameLimitsPerType: for every type, a header at its wire limit is
// taken and one byte more is refused from the header alone, naming the
// type and its limit; a payload inflating to exactly its decoded limit is
// inflated (and refused for what it holds, zeros not being a message) and
// one byte more is refused as too large.
func TestFrameLimitsPerType(t *testing.T) {
	for _, typ := range registeredTypes() {
		l := LimitsOf(typ)
		for _, flags := range []byte{0, FlagDeflate} {
			limit := l.payloadLimit(flags)
			if _, err := ParseHeader(header(magic, Version, typ, flags, uint32(limit))); err != nil {
				t.Errorf("%s, flags %d: a header at the %d byte limit: %v", typ, flags, limit, err)
			}
			_, err := ParseHeader(header(magic, Version, typ, flags, uint32(limit+1)))
			checkSentinel(t, err, ErrFrameTooLarge)
			if want := fmt.Sprintf("limit %s for %s", byteSize(limit), typ); !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", typ, err, want)
			}
		}
		if typ == TypeSnapshot {
			continue // TestDecodedSizeBoundary, with its 32 MiB
		}
		_, _, err := Decode(frame(typ, FlagDeflate, zeros(l.Decoded)))
		checkSentinel(t, err, ErrBadFrame)
		_, _, err = Decode(frame(typ, FlagDeflate, zeros(l.Decoded+1)))
		checkSentinel(t, err, ErrFrameTooLarge)
		if want := fmt.Sprintf("%s of more than %s decoded, limit %s for %s", typ, byteSize(l.Decoded), byteSize(l.Decoded), typ); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestSmallMessageBomb is the hostile collector's attack: a snapshot
// request that inflates to 32 MiB. Its 32 KB on the wire are refused from
// the header; one of 8 KB that inflates to 8 MiB is refused as too large
// for a snapshot request, allocating a small fraction of what a snapshot
// may inflate to, and decompression stops at the limit: what follows in
// the stream is never read (here, bytes that are not DEFLATE, which a
// decoder going on would report as malformed).
func TestSmallMessageBomb(t *testing.T) {
	_, _, err := Decode(frame(TypeSnapshotRequest, FlagDeflate, zeros(MaxDecodedSize)))
	checkSentinel(t, err, ErrFrameTooLarge)
	if want := "on the wire, limit 16,704 bytes for snapshot-request"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	b := frame(TypeSnapshotRequest, FlagDeflate, zeros(8<<20))
	n := allocated(func() { _, _, err = Decode(b) })
	checkSentinel(t, err, ErrFrameTooLarge)
	// A pooled decoder built again after the GC that allocated runs
	// (some 50 KB), and a buffer of up to 16 KiB.
	const most = 128 << 10
	if n > most {
		t.Errorf("refusing a snapshot request inflating to 8 MiB allocated %d bytes, want at most %d", n, most)
	}
	n = allocated(func() { _, err = Read(bytes.NewReader(b)) })
	checkSentinel(t, err, ErrFrameTooLarge)
	if n > most {
		t.Errorf("Read allocated %d bytes refusing it, want at most %d", n, most)
	}
	if want := "snapshot-request of more than 16 KiB decoded, limit 16 KiB for snapshot-request"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	// A stream that is DEFLATE up to 64 KiB and garbage after.
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 64<<10))
	w.Flush()
	stream := append(buf.Bytes(), bytes.Repeat([]byte{0xff}, 64)...)
	_, _, err = Decode(frame(TypeSnapshotRequest, FlagDeflate, stream))
	checkSentinel(t, err, ErrFrameTooLarge)
	_, _, err = Decode(frame(TypeSnapshot, FlagDeflate, stream))
	checkSentinel(t, err, ErrBadFrame) // a snapshot reads on, and finds the garbage
}

// TestLimitsHoldLargestValid: the largest message of each type that
// Validate accepts, its byte strings random and its texts as long as
// allowed, takes at most half its type's limits, on the wire and decoded:
// the room messages have to grow within major version 1. A snapshot is
// bounded by the frame, not by its fields (64 results of 4 MiB).
func TestLimitsHoldLargestValid(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	text := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rnd.IntN(26))
		}
		return string(b)
	}
	raw := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	names := func(n, size int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = text(size)
		}
		return s
	}
	facts := Facts{
		Hostname: text(MaxTextLen), OS: text(MaxTextLen), Platform: text(MaxTextLen),
		PlatformFamily: text(MaxTextLen), PlatformVersion: text(MaxTextLen), KernelVersion: text(MaxTextLen),
		Arch: text(MaxTextLen), Virtualization: text(MaxTextLen), HostID: text(MaxTextLen), CPUModel: text(MaxTextLen),
		CPUs: math.MaxInt, MemoryBytes: math.MaxUint64, BootTime: math.MinInt64,
	}
	largest := []Message{
		&Hello{AgentID: text(MaxIDLen), AgentVersion: text(MaxTextLen), Versions: raw(16), BootEpoch: math.MinInt64,
			Facts: facts, Probes: names(MaxProbes, MaxProbeNameLen), AgentTime: math.MaxInt64, Challenge: raw(ChallengeLen)},
		&Welcome{CollectorTime: math.MinInt64, HealthInterval: math.MaxInt64, Proof: raw(64)},
		&Introduce{BootEpoch: math.MinInt64, Facts: facts, Probes: names(MaxProbes, MaxProbeNameLen)},
		&SnapshotRequest{RequestID: text(MaxIDLen), Probes: names(MaxProbes, MaxProbeNameLen), Deadline: math.MaxInt64,
			AgentID: text(MaxIDLen), Nonce: raw(64), Signature: raw(128), Ticket: text(MaxIDLen),
			Processes: names(MaxProcessNames, MaxProcessNameLen), FreshHandshake: true},
		&Ack{AgentID: text(MaxIDLen), BootEpoch: math.MinInt64, Seq: math.MaxUint64, Duplicate: true},
		&Error{Code: math.MaxUint16, Message: text(MaxTextLen), RequestID: text(MaxIDLen), RetryAfter: MaxRetryAfter.Milliseconds()},
		&Enroll{Token: text(MaxTokenLen), CSR: raw(MaxCSRLen), Facts: facts},
		&Enrolled{AgentID: text(MaxIDLen), Certificate: raw(MaxCertLen), CA: raw(MaxCertLen), RequestKey: raw(32)},
		&Renew{CSR: raw(MaxCSRLen)},
		&Renewed{Certificate: raw(MaxCertLen)},
	}
	seen := map[Type]bool{TypeSnapshot: true}
	for _, m := range largest {
		seen[m.Type()] = true
		if err := m.Validate(); err != nil {
			t.Fatalf("the largest %s is not valid: %v", m.Type(), err)
		}
		b := mustAppend(t, m)
		if _, _, err := Decode(b); err != nil {
			t.Errorf("the largest valid %s: %v", m.Type(), err)
		}
		l, decoded := LimitsOf(m.Type()), len(mustMarshal(t, m))
		if wire := len(b) - HeaderSize; 2*wire > l.Wire || 2*decoded > l.Decoded {
			t.Errorf("the largest valid %s is %d bytes on the wire, %d decoded: more than half its limits %+v", m.Type(), wire, decoded, l)
		}
		t.Logf("%-16s largest valid: %6d bytes decoded, limit %s", m.Type(), decoded, byteSize(l.Decoded))
	}
	for _, typ := range registeredTypes() {
		if !seen[typ] {
			t.Errorf("no largest %s: add one", typ)
		}
	}
}

// TestByteSize: sizes read as people write them.
func TestByteSize(t *testing.T) {
	for n, want := range map[int]string{0: "0 bytes", 999: "999 bytes", 2000: "2,000 bytes", 1 << 10: "1 KiB",
		16 << 10: "16 KiB", 16<<10 + 1: "16,385 bytes", 32 << 20: "32 MiB", 8386903: "8,386,903 bytes"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
	if got := byteSize(uint32(math.MaxUint32)); got != "4,294,967,295 bytes" {
		t.Errorf("byteSize(MaxUint32) = %q", got)
	}
}

package protocol

import (
	"fmt"
	"strconv"
)

// Limits bound one message type's frames: Wire the payload bytes as they
// travel, Decoded the payload after decompression (for an uncompressed
// frame, the lesser of the two bounds its length). ParseHeader checks the
// header's length against them before anything else is read, and the
// decoder stops inflating one byte past Decoded, so the cost of a frame is
// bounded by what its type can hold, not by the largest message.
type Limits struct {
	Wire    int
	Decoded int
}

// small returns the limits of a message type that has no need to be
// large: decoded bytes, and on the wire as many plus what DEFLATE adds to
// bytes that do not compress (5 bytes a stored block of up to 64 KiB; a
// sixty-fourth and 64 bytes is far more).
func small(decoded int) Limits {
	return Limits{Wire: decoded + decoded/64 + 64, Decoded: decoded}
}

// frameLimits holds each message type's limits; both sides read and write
// frames with the same table, so a collector refuses an oversized small
// message from an agent as an agent does from a collector. Each limit
// holds the largest message that Validate accepts with room to spare, for
// messages grow within major version 1 and an older peer applies its own
// table (TestLimitsHoldLargestValid checks the room); past it, a peer
// pays for bytes no valid message needs. Before these limits, every type
// could inflate to 32 MiB: a hostile collector made an agent inflate a
// snapshot request of well under 1 KiB to 32 MiB, 1,281 times in 20 s.
var frameLimits = [...]Limits{
	// A hello carries the machine's facts (ten texts of up to MaxTextLen)
	// and up to MaxProbes probe names: 14 KB at most.
	TypeHello: small(64 << 10),
	// A welcome holds two integers and a 64-byte proof: under 100 bytes.
	TypeWelcome: small(4 << 10),
	// A snapshot request holds IDs, a nonce, a signature, up to MaxProbes
	// probe names and MaxProcessNames process names: 4 KB at most.
	TypeSnapshotRequest: small(16 << 10),
	// A snapshot is the one large message: up to MaxProbes results of up
	// to MaxProbeData each, whose JSON deflates to 30-45 %. MaxFrameSize
	// and MaxDecodedSize are its limits, and no other type's is larger.
	TypeSnapshot: {Wire: MaxFrameSize, Decoded: MaxDecodedSize},
	// An ack holds an agent ID and three numbers: under 100 bytes.
	TypeAck: small(4 << 10),
	// An error holds a code, a request ID and a message of up to
	// MaxTextLen: 1.1 KB at most.
	TypeError: small(8 << 10),
	// An enroll holds a token, a CSR of up to MaxCSRLen and the facts:
	// 19 KB at most.
	TypeEnroll: small(64 << 10),
	// Enrolled holds two certificates of up to MaxCertLen and a key:
	// 17 KB at most.
	TypeEnrolled: small(64 << 10),
	// A renew holds a CSR of up to MaxCSRLen: 8 KB at most.
	TypeRenew: small(32 << 10),
	// Renewed holds a certificate of up to MaxCertLen: 8 KB at most.
	TypeRenewed: small(32 << 10),
	// An introduce carries what a hello from before the challenge did, the
	// facts and the probe names, and takes its limits.
	TypeIntroduce: small(64 << 10),
}

// LimitsOf returns the limits of a message type's frames; the zero Limits
// for a type the protocol does not define.
func LimitsOf(t Type) Limits {
	if int(t) < len(frameLimits) {
		return frameLimits[t]
	}
	return Limits{}
}

// payloadLimit is the most a frame of hd's type and flags may carry on
// the wire.
func (l Limits) payloadLimit(flags byte) int {
	if flags&FlagDeflate != 0 {
		return l.Wire
	}
	return min(l.Wire, l.Decoded)
}

// byteSize says n bytes as people read it: "16 KiB", "32 MiB", or
// "2,000 bytes".
func byteSize[N int | uint32](n N) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatUint(uint64(n>>20), 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatUint(uint64(n>>10), 10) + " KiB"
	}
	s := strconv.FormatUint(uint64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " bytes"
}

// tooLarge is the error of a frame past its type's limit: how large it
// is ("of 2,000 bytes decoded"), and the limit.
func tooLarge(t Type, size string, limit int) error {
	return fmt.Errorf("%w: %s %s, limit %s for %s", ErrFrameTooLarge, t, size, byteSize(limit), t)
}

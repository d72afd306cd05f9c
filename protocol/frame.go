package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/fxamacker/cbor/v2"
	kflate "github.com/klauspost/compress/flate"
)

// Frame limits. MaxFrameSize and MaxDecodedSize are a snapshot's, the
// largest message; every other type has smaller ones (see LimitsOf).
const (
	HeaderSize     = 8
	MaxFrameSize   = 8 << 20  // payload bytes on the wire
	MaxDecodedSize = 32 << 20 // payload bytes after decompression

	magic = 'S'
	// compressAbove is the payload size from which Append compresses.
	compressAbove = 2 << 10
)

// Flags in a frame header.
const (
	FlagDeflate = 1 << 0

	knownFlags = FlagDeflate
)

// Errors a decoder returns; they wrap more detail.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrBadFrame      = errors.New("malformed frame")
	ErrVersion       = errors.New("unsupported protocol version")
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  8,
		MaxArrayElements: 4096,
		MaxMapPairs:      256,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Append encodes m as one frame and appends it to b.
func Append(b []byte, m Message) ([]byte, error) {
	payload, err := encMode.Marshal(m)
	if err != nil {
		return b, fmt.Errorf("encoding %s: %w", m.Type(), err)
	}
	lim := LimitsOf(m.Type())
	if len(payload) > lim.Decoded {
		// Compressed, it might fit in a frame, but the peer would refuse it.
		return b, tooLarge(m.Type(), "of "+byteSize(len(payload))+" decoded", lim.Decoded)
	}
	var flags byte
	if len(payload) > compressAbove {
		payload, err = Deflate(payload)
		if err != nil {
			return b, fmt.Errorf("compressing %s: %w", m.Type(), err)
		}
		flags |= FlagDeflate
	}
	if limit := lim.payloadLimit(flags); len(payload) > limit {
		return b, tooLarge(m.Type(), "frame of "+byteSize(len(payload))+" on the wire", limit)
	}
	b = append(b, magic, Version, byte(m.Type()), flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...), nil
}

// Write encodes m as one frame to w.
func Write(w io.Writer, m Message) error {
	b, err := Append(nil, m)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing a %d-byte frame: %w", len(b), err)
	}
	return nil
}

// Header is a decoded frame header.
type Header struct {
	Type   Type
	Flags  byte
	Length uint32
}

// ParseHeader checks a frame header against the limits of its type (see
// LimitsOf): a frame too large is refused before its payload is read.
func ParseHeader(h []byte) (Header, error) {
	if len(h) < HeaderSize {
		return Header{}, fmt.Errorf("%w: short header", ErrBadFrame)
	}
	if h[0] != magic {
		return Header{}, fmt.Errorf("%w: bad magic 0x%02x", ErrBadFrame, h[0])
	}
	if h[1] != Version {
		return Header{}, fmt.Errorf("%w: %d (this side speaks %d)", ErrVersion, h[1], Version)
	}
	hd := Header{Type: Type(h[2]), Flags: h[3], Length: binary.BigEndian.Uint32(h[4:8])}
	if newMessage(hd.Type) == nil {
		return Header{}, fmt.Errorf("%w: unknown message type %d", ErrBadFrame, h[2])
	}
	if hd.Flags&^knownFlags != 0 {
		return Header{}, fmt.Errorf("%w: unknown flags 0x%02x", ErrBadFrame, hd.Flags)
	}
	if limit := LimitsOf(hd.Type).payloadLimit(hd.Flags); int64(hd.Length) > int64(limit) {
		return Header{}, tooLarge(hd.Type, "frame of "+byteSize(hd.Length)+" on the wire", limit)
	}
	return hd, nil
}

// Read reads one frame from r and decodes and validates its message.
func Read(r io.Reader) (Message, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF // a clean end between frames
		}
		return nil, fmt.Errorf("reading a frame header: %w", err)
	}
	hd, err := ParseHeader(h[:])
	if err != nil {
		return nil, err
	}
	// The payload is read into a pooled buffer: the decoder copies what it
	// keeps (see scratch).
	buf := getScratch()
	defer putScratch(buf)
	payload := slices.Grow((*buf)[:0], int(hd.Length))[:hd.Length]
	*buf = payload
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("%w: reading %d byte payload: %w", ErrBadFrame, hd.Length, err)
	}
	return decodePayload(hd, payload)
}

// Decode decodes the frame at the start of b and returns its message and the
// number of bytes it used.
func Decode(b []byte) (Message, int, error) {
	hd, err := ParseHeader(b)
	if err != nil {
		return nil, 0, err
	}
	end := HeaderSize + int(hd.Length)
	if len(b) < end {
		return nil, 0, fmt.Errorf("%w: truncated payload (%d of %d bytes)", ErrBadFrame, len(b)-HeaderSize, hd.Length)
	}
	m, err := decodePayload(hd, b[HeaderSize:end])
	return m, end, err
}

// ReadAs reads one frame and requires it to hold a T, turning an Error
// message into a Go error.
func ReadAs[T Message](r io.Reader) (T, error) {
	var zero T
	m, err := Read(r)
	if err != nil {
		return zero, err
	}
	if t, ok := m.(T); ok {
		return t, nil
	}
	if e, ok := m.(*Error); ok {
		return zero, e
	}
	return zero, fmt.Errorf("%w: got %s, want %s", ErrBadFrame, m.Type(), zero.Type())
}

func decodePayload(hd Header, payload []byte) (Message, error) {
	if hd.Flags&FlagDeflate != 0 {
		buf := getScratch()
		defer putScratch(buf)
		out, err := inflate(*buf, payload, hd.Type)
		if err != nil {
			return nil, err
		}
		*buf, payload = out, out
	}
	m := newMessage(hd.Type)
	// Unmarshal copies every string and byte string it decodes: nothing of
	// payload is kept, so its buffer can be used again.
	if err := decMode.Unmarshal(payload, m); err != nil {
		return nil, fmt.Errorf("%w: decoding %s: %v", ErrBadFrame, hd.Type, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", hd.Type, err)
	}
	return m, nil
}

// Deflate compresses p into a raw DEFLATE stream (RFC 1951) with
// klauspost/compress's stateless encoder: it keeps no window or hash
// chains between calls, so nothing of a megabyte is built again once a
// garbage collection has emptied a pool (compress/flate's writer is 1.2 MB,
// and an agent's full snapshots come minutes apart). Any DEFLATE decoder
// reads the stream, compress/flate's in inflate among them: the wire does
// not change. The collector stores probe results with it too.
func Deflate(p []byte) ([]byte, error) { return AppendDeflate(nil, p) }

// AppendDeflate is Deflate appending to dst: a caller that puts something
// before the stream gets it in one buffer.
func AppendDeflate(dst, p []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	// Snapshots' JSON deflates to 30-45 %: one allocation for most.
	buf.Grow(len(p)/2 + 64)
	if err := kflate.StatelessDeflate(buf, p, true, nil); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

// onePass is the decompressed size up to which inflate produces its output
// in one pass. Past it, inflate measures the rest of the stream before it
// produces any more, so a stream that would inflate past its type's limit
// costs at most onePass bytes to refuse. Snapshots inflate to tens of
// kilobytes; every other type's limit is below onePass, so such a stream
// is refused one byte past its limit, in the one pass.
const onePass = 256 << 10

// inflater is a DEFLATE decoder kept for reuse, with the reader it reads
// from: building one costs some 40 KB and its Huffman tables.
type inflater struct {
	src bytes.Reader
	r   io.Reader
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.r = kflate.NewReader(&f.src)
	return f
}}

// Inflate decompresses p, a DEFLATE stream such as Deflate makes, with a
// pooled decoder, and refuses output past limit bytes (stopping one byte
// past it): the collector's store reads probe results with it.
func Inflate(p []byte, limit int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer func() {
		f.src.Reset(nil) // keep nothing of p
		inflaters.Put(f)
	}()
	f.src.Reset(p)
	if err := f.r.(kflate.Resetter).Reset(&f.src, nil); err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	out, err := readAtMost(nil, f.r, limit+1)
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("decompresses past %d bytes", limit)
	}
	return out, nil
}

// inflate decompresses p, the payload of a frame of type t, into dst's
// memory when it has room, and refuses output beyond t's decoded limit
// without producing it: up to onePass bytes are produced as they come, and
// decompression stops one byte past the limit; past onePass, the rest of
// the stream is only measured, and decompressed again into a new buffer of
// exactly its size.
func inflate(dst, p []byte, t Type) ([]byte, error) {
	limit := LimitsOf(t).Decoded
	past := func() error { return tooLarge(t, "of more than "+byteSize(limit)+" decoded", limit) }
	f := inflaters.Get().(*inflater)
	defer func() {
		f.src.Reset(nil) // keep nothing of p
		inflaters.Put(f)
	}()
	rewind := func() error {
		f.src.Reset(p)
		if err := f.r.(kflate.Resetter).Reset(&f.src, nil); err != nil {
			return fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
		}
		return nil
	}
	if err := rewind(); err != nil {
		return nil, err
	}
	first := min(onePass, limit)
	dst, err := readAtMost(dst[:0], f.r, first+1)
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	if len(dst) <= first {
		return dst, nil
	}
	if first == limit {
		return nil, past()
	}
	rest, err := io.Copy(io.Discard, io.LimitReader(f.r, int64(limit-first)))
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	n := int64(first) + 1 + rest
	if n > int64(limit) {
		return nil, past()
	}
	if err := rewind(); err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(f.r, out); err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	return out, nil
}

// readAtMost appends what r yields to b until r ends or b holds limit
// bytes.
func readAtMost(b []byte, r io.Reader, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(max(cap(b), 4<<10), limit-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// scratch holds the buffers a frame is read and inflated into, for
// reuse: the decoder copies what it keeps, so a buffer is free again once
// its message is decoded. Buffers past maxScratch are left to the garbage
// collector, so the pool never pins a large message's memory.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

const maxScratch = 2 * onePass

func getScratch() *[]byte { return scratch.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) > maxScratch {
		*b = nil
	}
	*b = (*b)[:0]
	scratch.Put(b)
}

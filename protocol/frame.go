package protocol

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	kflate "github.com/klauspost/compress/flate"
)

// Frame limits.
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
	if len(payload) > MaxDecodedSize {
		// Compressed, it might fit in a frame, but the peer would refuse it.
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrFrameTooLarge, m.Type(), len(payload), MaxDecodedSize)
	}
	var flags byte
	if len(payload) > compressAbove {
		payload, err = Deflate(payload)
		if err != nil {
			return b, fmt.Errorf("compressing %s: %w", m.Type(), err)
		}
		flags |= FlagDeflate
	}
	if len(payload) > MaxFrameSize {
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrFrameTooLarge, m.Type(), len(payload), MaxFrameSize)
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

// ParseHeader checks a frame header against the limits.
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
	if hd.Length > MaxFrameSize {
		return Header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, hd.Length, MaxFrameSize)
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
	payload := make([]byte, hd.Length)
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
		var err error
		if payload, err = inflate(payload); err != nil {
			return nil, err
		}
	}
	m := newMessage(hd.Type)
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
func Deflate(p []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(p) / 3)
	if err := kflate.StatelessDeflate(&buf, p, true, nil); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

// inflate decompresses p, refusing output beyond MaxDecodedSize without
// producing it: a first pass only measures the output, and a second one
// decompresses into a buffer of exactly that size.
func inflate(p []byte) ([]byte, error) {
	src := bytes.NewReader(p)
	r := flate.NewReader(src)
	defer r.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(r, MaxDecodedSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	if n > MaxDecodedSize {
		return nil, fmt.Errorf("%w: decompresses past %d bytes", ErrFrameTooLarge, MaxDecodedSize)
	}
	src.Reset(p)
	if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrBadFrame, err)
	}
	return out, nil
}

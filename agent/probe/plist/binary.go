package plist

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
)

// A binary property list is "bplist00", the objects, a table of their
// offsets, and a 32-byte trailer: 6 unused bytes, the sort version, the
// size of an offset, the size of an object reference, the number of
// objects, the top object and where the offset table starts.
const (
	headerLen  = 8
	trailerLen = 32
)

// binaryList is a binary plist being decoded.
type binaryList struct {
	b        []byte
	offsets  []byte // the offset table
	offSize  int
	refSize  int
	nObjects uint64
	budget
}

func parseBinary(b []byte) (any, error) {
	if len(b) < headerLen+trailerLen+1 {
		return nil, fmt.Errorf("%w: binary plist of %d bytes is too short", ErrFormat, len(b))
	}
	t := b[len(b)-trailerLen:]
	l := &binaryList{b: b, offSize: int(t[6]), refSize: int(t[7]), nObjects: binary.BigEndian.Uint64(t[8:])}
	top := binary.BigEndian.Uint64(t[16:])
	tableAt := binary.BigEndian.Uint64(t[24:])
	end := uint64(len(b) - trailerLen)
	switch {
	case l.offSize < 1 || l.offSize > 8 || l.refSize < 1 || l.refSize > 8:
		return nil, fmt.Errorf("%w: binary plist trailer: offset size %d, reference size %d", ErrFormat, l.offSize, l.refSize)
	case l.nObjects == 0 || l.nObjects > end:
		return nil, fmt.Errorf("%w: binary plist trailer: %d objects", ErrFormat, l.nObjects)
	case top >= l.nObjects:
		return nil, fmt.Errorf("%w: binary plist trailer: top object %d of %d", ErrFormat, top, l.nObjects)
	case tableAt < headerLen || tableAt > end || (end-tableAt)/uint64(l.offSize) < l.nObjects:
		return nil, fmt.Errorf("%w: binary plist trailer: offset table at %d does not fit", ErrFormat, tableAt)
	}
	l.offsets = b[tableAt : tableAt+l.nObjects*uint64(l.offSize)]
	// Objects lie between the header and the offset table.
	l.b = b[:tableAt]
	return l.object(top, 0)
}

// object decodes the object numbered ref, at nesting depth.
func (l *binaryList) object(ref uint64, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrFormat, MaxDepth)
	}
	if err := l.take(); err != nil {
		return nil, err
	}
	if ref >= l.nObjects {
		return nil, fmt.Errorf("%w: reference to object %d of %d", ErrFormat, ref, l.nObjects)
	}
	off := uintN(l.offsets[ref*uint64(l.offSize):][:l.offSize])
	if off < headerLen || off >= uint64(len(l.b)) {
		return nil, fmt.Errorf("%w: object %d at offset %d, outside the objects", ErrFormat, ref, off)
	}
	marker, rest := l.b[off], l.b[off+1:]
	kind, low := marker>>4, int(marker&0xf)
	switch kind {
	case 0x0:
		switch marker {
		case 0x00:
			return nil, nil
		case 0x08:
			return false, nil
		case 0x09:
			return true, nil
		}
	case 0x1:
		return l.integer(low, rest, off)
	case 0x2:
		return l.real(low, rest, off)
	case 0x3:
		if marker == 0x33 && len(rest) >= 8 {
			return dateOf(math.Float64frombits(binary.BigEndian.Uint64(rest)))
		}
	case 0x4, 0x5, 0x6:
		return l.bytesOrString(kind, low, rest, off)
	case 0x8:
		if low < 8 && len(rest) > low {
			return UID(uintN(rest[:low+1])), nil
		}
	case 0xa, 0xc: // array, set
		return l.array(low, rest, off, depth)
	case 0xd:
		return l.dict(low, rest, off, depth)
	}
	return nil, fmt.Errorf("%w: bad object marker 0x%02x at offset %d", ErrFormat, marker, off)
}

// integer decodes an integer of 2^low bytes: big-endian, signed when it
// has eight bytes or more, a 16-byte one keeping its low 8 bytes when the
// high ones are zero.
func (l *binaryList) integer(low int, rest []byte, off uint64) (any, error) {
	n := 1 << low
	if low > 4 || len(rest) < n {
		return nil, fmt.Errorf("%w: bad integer at offset %d", ErrFormat, off)
	}
	switch n {
	case 16:
		hi, lo := binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])
		switch {
		case hi == 0 && lo <= math.MaxInt64:
			return int64(lo), nil
		case hi == 0:
			return lo, nil
		case hi == math.MaxUint64 && lo > math.MaxInt64:
			return int64(lo), nil
		}
		return nil, fmt.Errorf("%w: integer at offset %d does not fit 64 bits", ErrFormat, off)
	case 8:
		return int64(binary.BigEndian.Uint64(rest)), nil
	}
	return int64(uintN(rest[:n])), nil
}

func (l *binaryList) real(low int, rest []byte, off uint64) (any, error) {
	switch {
	case low == 2 && len(rest) >= 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(rest))), nil
	case low == 3 && len(rest) >= 8:
		return math.Float64frombits(binary.BigEndian.Uint64(rest)), nil
	}
	return nil, fmt.Errorf("%w: bad real at offset %d", ErrFormat, off)
}

// count returns a data, string or collection's length: low, or when low
// is 0xf the integer that follows the marker; and the bytes after it.
func (l *binaryList) count(low int, rest []byte, off uint64) (uint64, []byte, error) {
	if low != 0xf {
		return uint64(low), rest, nil
	}
	if len(rest) < 1 || rest[0]>>4 != 0x1 || rest[0]&0xf > 3 {
		return 0, nil, fmt.Errorf("%w: bad length at offset %d", ErrFormat, off)
	}
	n := 1 << (rest[0] & 0xf)
	if len(rest) < 1+n {
		return 0, nil, fmt.Errorf("%w: bad length at offset %d", ErrFormat, off)
	}
	return uintN(rest[1 : 1+n]), rest[1+n:], nil
}

// bytesOrString decodes data (0x4), an ASCII string (0x5) or a UTF-16
// string (0x6).
func (l *binaryList) bytesOrString(kind byte, low int, rest []byte, off uint64) (any, error) {
	n, rest, err := l.count(low, rest, off)
	if err != nil {
		return nil, err
	}
	size := n
	if kind == 0x6 {
		size = 2 * n
	}
	if n > uint64(len(rest)) || size > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: %d-byte value at offset %d runs past the objects", ErrFormat, size, off)
	}
	raw := rest[:size]
	switch kind {
	case 0x4:
		return append([]byte(nil), raw...), nil
	case 0x5:
		return strings.ToValidUTF8(string(raw), "\uFFFD"), nil
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(raw[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// refs returns n object references from rest.
func (l *binaryList) refs(n uint64, rest []byte, off uint64) ([]uint64, error) {
	if n > uint64(len(rest))/uint64(l.refSize) {
		return nil, fmt.Errorf("%w: %d references at offset %d run past the objects", ErrFormat, n, off)
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uintN(rest[i*l.refSize:][:l.refSize])
	}
	return out, nil
}

func (l *binaryList) array(low int, rest []byte, off uint64, depth int) (any, error) {
	n, rest, err := l.count(low, rest, off)
	if err != nil {
		return nil, err
	}
	refs, err := l.refs(n, rest, off)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		v, err := l.object(r, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// dict decodes n key references, then n value references.
func (l *binaryList) dict(low int, rest []byte, off uint64, depth int) (any, error) {
	n, rest, err := l.count(low, rest, off)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(rest))/2 {
		return nil, fmt.Errorf("%w: dict of %d entries at offset %d runs past the objects", ErrFormat, n, off)
	}
	refs, err := l.refs(2*n, rest, off)
	if err != nil {
		return nil, err
	}
	out := make(Dict, n)
	for i := range n {
		k, err := l.object(refs[i], depth+1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("%w: dict key at offset %d is %s, not a string", ErrFormat, off, typeName(k))
		}
		v, err := l.object(refs[n+i], depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// uintN reads a big-endian unsigned integer of up to 8 bytes.
func uintN(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

package tcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Record types; see the package doc.
const (
	recMux    = 0
	recParams = 1
	recClose  = 2
	recReset  = 3
	recStop   = 4
)

// Bounds of the record layer.
const (
	// maxMux is the largest MUX record body; writers split at it.
	maxMux = 64 << 10
	// maxControl is the largest body of any other record, known or not.
	maxControl = 4 << 10
	// MaxReason is the longest close reason carried, in bytes; a longer
	// one is cut (on a character boundary).
	MaxReason = 1024
)

// errProtocol marks a record stream that breaks the rules above.
var errProtocol = errors.New("tcp transport: protocol violation")

// control is a decoded control record.
type control struct {
	typ    byte
	code   uint64 // CLOSE, RESET, STOP
	stream uint64 // RESET, STOP
	reason string // CLOSE
	idle   uint64 // PARAMS: idle timeout offered, milliseconds
}

// appendRecord appends a record of type typ with body to b.
func appendRecord(b []byte, typ byte, body []byte) []byte {
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// appendClose appends a CLOSE record.
func appendClose(b []byte, code uint64, reason string) []byte {
	reason = cutReason(reason)
	body := binary.AppendUvarint(nil, code)
	body = binary.AppendUvarint(body, uint64(len(reason)))
	body = append(body, reason...)
	return appendRecord(b, recClose, body)
}

// appendStreamRecord appends a RESET or STOP record.
func appendStreamRecord(b []byte, typ byte, stream uint32, code uint64) []byte {
	body := binary.AppendUvarint(nil, uint64(stream))
	body = binary.AppendUvarint(body, code)
	return appendRecord(b, typ, body)
}

// appendParams appends a PARAMS record.
func appendParams(b []byte, idleMillis uint64) []byte {
	return appendRecord(b, recParams, binary.AppendUvarint(nil, idleMillis))
}

// cutReason bounds a close reason to MaxReason bytes of valid UTF-8.
func cutReason(s string) string {
	s = toValidUTF8(s)
	if len(s) <= MaxReason {
		return s
	}
	s = s[:MaxReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func toValidUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// parseControl decodes the body of a control record of type typ. Fields a
// later version appends are ignored; a body too short for its fields is a
// protocol violation. Unknown types decode to a control with only typ set.
func parseControl(typ byte, body []byte) (control, error) {
	c := control{typ: typ}
	r := body
	next := func() (uint64, error) {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			return 0, fmt.Errorf("%w: bad varint in record %d", errProtocol, typ)
		}
		r = r[n:]
		return v, nil
	}
	var err error
	switch typ {
	case recParams:
		c.idle, err = next()
	case recClose:
		if c.code, err = next(); err != nil {
			return c, err
		}
		var n uint64
		if n, err = next(); err != nil {
			return c, err
		}
		if n > MaxReason || n > uint64(len(r)) {
			return c, fmt.Errorf("%w: close reason of %d bytes", errProtocol, n)
		}
		c.reason = toValidUTF8(string(r[:n]))
	case recReset, recStop:
		if c.stream, err = next(); err != nil {
			return c, err
		}
		if c.stream > 1<<32-1 {
			return c, fmt.Errorf("%w: stream %d", errProtocol, c.stream)
		}
		c.code, err = next()
	}
	return c, err
}

// recordReader reads records and hands the MUX bodies on as one byte stream
// (yamux's), passing each control record to handle as it comes, in order
// with the stream: a control record is handled before any MUX byte that
// follows it is read.
type recordReader struct {
	br      *bufio.Reader
	muxLeft uint64
	body    []byte // scratch for control bodies
	handle  func(control) error
}

// Read implements io.Reader over the MUX bodies.
func (r *recordReader) Read(p []byte) (int, error) {
	for r.muxLeft == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	if uint64(len(p)) > r.muxLeft {
		p = p[:r.muxLeft]
	}
	n, err := r.br.Read(p)
	r.muxLeft -= uint64(n)
	if err == io.EOF && r.muxLeft > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next reads one record header; a MUX record sets muxLeft, a control
// record is read whole and handled.
func (r *recordReader) next() error {
	typ, err := r.br.ReadByte()
	if err != nil {
		return err // io.EOF between records: the peer hung up cleanly
	}
	n, err := binary.ReadUvarint(r.br)
	if err != nil {
		return noEOF(err)
	}
	if typ == recMux {
		if n == 0 || n > maxMux {
			return fmt.Errorf("%w: MUX record of %d bytes", errProtocol, n)
		}
		r.muxLeft = n
		return nil
	}
	if n > maxControl {
		return fmt.Errorf("%w: record %d of %d bytes", errProtocol, typ, n)
	}
	if cap(r.body) < int(n) {
		r.body = make([]byte, n)
	}
	body := r.body[:n]
	if _, err := io.ReadFull(r.br, body); err != nil {
		return noEOF(err)
	}
	c, err := parseControl(typ, body)
	if err != nil {
		return err
	}
	return r.handle(c)
}

// noEOF turns an end of stream inside a record into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

package tcp

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sondehq/sonde/internal/transport"
)

// writeChunk is how much of a Write goes to yamux at once, so that a
// STOP or a CancelWrite stops a long write between chunks.
const writeChunk = 32 << 10

// past is a deadline long gone: setting it wakes a blocked yamux read or
// write, which then finds the stream canceled.
var past = time.Unix(1, 0)

// stream implements transport.Stream over a yamux stream, adding what
// yamux lacks: resets with codes in either direction (RESET and STOP
// records; see the package doc).
type stream struct {
	c        *conn
	ys       *yamux.Stream
	id       uint32
	accepted bool // holds one of the connection's accept slots

	mu        sync.Mutex
	readErr   *transport.StreamError // CancelRead here, or RESET from the peer
	writeErr  *transport.StreamError // CancelWrite here, or STOP from the peer
	readDone  bool                   // nothing more will be read
	writeDone bool                   // nothing more will be written
	released  bool
}

func newStream(c *conn, ys *yamux.Stream, accepted bool) *stream {
	return &stream{c: c, ys: ys, id: ys.StreamID(), accepted: accepted}
}

func (s *stream) Read(p []byte) (int, error) {
	if err := s.readCanceled(); err != nil {
		return 0, err
	}
	n, err := s.ys.Read(p)
	if err == nil {
		return n, nil
	}
	if cerr := s.readCanceled(); cerr != nil {
		return n, cerr
	}
	switch {
	case errors.Is(err, yamux.ErrTimeout):
		return n, os.ErrDeadlineExceeded
	case errors.Is(err, yamux.ErrConnectionReset):
		return n, &transport.StreamError{Remote: true}
	case err == io.EOF:
		// A stream of a connection that ended reads the connection's
		// end, not a clean EOF: its data may be cut short.
		if cerr := s.c.closeError(); cerr != nil {
			return n, cerr
		}
		s.finish(func() { s.readDone = true })
		return n, io.EOF
	}
	return n, s.c.streamErr(err)
}

func (s *stream) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if err := s.writeCanceled(); err != nil {
			return total, err
		}
		n, err := s.ys.Write(p[:min(len(p), writeChunk)])
		total += n
		p = p[n:]
		if err != nil {
			return total, s.writeError(err)
		}
	}
	s.c.elicit()
	return total, nil
}

func (s *stream) writeError(err error) error {
	if cerr := s.writeCanceled(); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, yamux.ErrTimeout):
		return os.ErrDeadlineExceeded
	case errors.Is(err, yamux.ErrConnectionReset):
		return &transport.StreamError{Remote: true}
	case errors.Is(err, yamux.ErrStreamClosed):
		if cerr := s.c.closeError(); cerr != nil {
			return cerr
		}
		return errors.New("tcp transport: write on a closed stream")
	}
	return s.c.streamErr(err)
}

func (s *stream) readCanceled() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return s.readErr
	}
	return nil
}

func (s *stream) writeCanceled() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	return nil
}

// Close ends the write direction with a FIN.
func (s *stream) Close() error {
	s.finish(func() { s.writeDone = true })
	s.ys.Close()
	return nil
}

// CancelRead fails this side's reads and, through a STOP record, the
// peer's writes.
func (s *stream) CancelRead(code uint64) {
	s.mu.Lock()
	send := s.readErr == nil && !s.readDone
	if s.readErr == nil {
		s.readErr = &transport.StreamError{Code: code}
	}
	s.mu.Unlock()
	if send {
		s.c.queueControl(appendStreamRecord(nil, recStop, s.id, code))
	}
	s.ys.SetReadDeadline(past)
	s.finish(func() { s.readDone = true })
}

// CancelWrite fails the peer's reads, through a RESET record that reaches
// it before the FIN that follows, and this side's writes.
func (s *stream) CancelWrite(code uint64) {
	s.mu.Lock()
	send := s.writeErr == nil && !s.writeDone
	if s.writeErr == nil {
		s.writeErr = &transport.StreamError{Code: code}
	}
	s.mu.Unlock()
	if send {
		s.c.queueControl(appendStreamRecord(nil, recReset, s.id, code))
	}
	s.finish(func() { s.writeDone = true })
	s.ys.Close()
}

// remote applies the peer's RESET or STOP; it runs in the reader's
// goroutine and does not block.
func (s *stream) remote(ctl control) {
	s.mu.Lock()
	if ctl.typ == recReset && s.readErr == nil {
		s.readErr = &transport.StreamError{Code: ctl.code, Remote: true}
	}
	if ctl.typ == recStop && s.writeErr == nil {
		s.writeErr = &transport.StreamError{Code: ctl.code, Remote: true}
	}
	s.mu.Unlock()
	if ctl.typ == recReset {
		s.ys.SetReadDeadline(past)
		s.finish(func() { s.readDone = true })
	} else {
		s.ys.SetWriteDeadline(past)
	}
}

// finish applies mark under the lock and, once both directions are done,
// forgets the stream and gives its accept slot back.
func (s *stream) finish(mark func()) {
	s.mu.Lock()
	mark()
	release := s.readDone && s.writeDone && !s.released
	if release {
		s.released = true
	}
	s.mu.Unlock()
	if !release {
		return
	}
	s.c.reg.remove(s.id)
	if s.accepted {
		<-s.c.slots
	}
}

func (s *stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline leaves a canceled read side as it is: its reads fail
// anyway, and its wake-up deadline must stay.
func (s *stream) SetReadDeadline(t time.Time) error {
	if s.readCanceled() == nil {
		s.ys.SetReadDeadline(t)
	}
	return nil
}

func (s *stream) SetWriteDeadline(t time.Time) error {
	if s.writeCanceled() == nil {
		s.ys.SetWriteDeadline(t)
	}
	return nil
}

// registry finds a stream by its ID for the RESET and STOP records.
type registry struct {
	mu      sync.Mutex
	streams map[uint32]*stream
	// maxID is the highest ID registered, by parity (0: even, the
	// server's; 1: odd, the client's). A record for an unknown ID above
	// it is for a stream not registered yet (opened but not accepted, or
	// registered a moment after its opening), and waits in early.
	maxID [2]uint32
	early map[uint32][]control
}

// maxEarly bounds the records kept for streams not registered yet.
const maxEarly = 64

func (r *registry) init() {
	r.streams = map[uint32]*stream{}
	r.early = map[uint32][]control{}
}

func (r *registry) add(s *stream) *stream {
	r.mu.Lock()
	r.streams[s.id] = s
	r.maxID[s.id%2] = max(r.maxID[s.id%2], s.id)
	early := r.early[s.id]
	delete(r.early, s.id)
	for id := range r.early {
		if id%2 == s.id%2 && id+2*maxEarly < s.id {
			delete(r.early, id) // its stream never came: reset by yamux
		}
	}
	r.mu.Unlock()
	for _, ctl := range early {
		s.remote(ctl)
	}
	return s
}

func (r *registry) remove(id uint32) {
	r.mu.Lock()
	delete(r.streams, id)
	r.mu.Unlock()
}

func (r *registry) deliver(ctl control) {
	id := uint32(ctl.stream)
	r.mu.Lock()
	s := r.streams[id]
	if s == nil && id > r.maxID[id%2] && (len(r.early) < maxEarly || r.early[id] != nil) {
		r.early[id] = append(r.early[id][:min(len(r.early[id]), 1)], ctl)
	}
	r.mu.Unlock()
	if s != nil {
		s.remote(ctl)
	}
}

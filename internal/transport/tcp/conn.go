package tcp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sondehq/sonde/internal/transport"
)

// Config tunes a TCP connection. Zero values take the defaults; a nil
// Config is a zero one.
type Config struct {
	// HandshakeTimeout bounds the TCP connect and the TLS handshake;
	// default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout is this side's offer: the connection ends once nothing
	// has arrived for the smaller of the two sides' offers (as in QUIC);
	// default 30 s.
	IdleTimeout time.Duration
	// KeepAlivePeriod, when set, makes this side ping the peer once
	// nothing has arrived for it (or for half the idle timeout, if less).
	KeepAlivePeriod time.Duration
	// MaxIncomingStreams bounds the streams the peer has open at once on
	// this side; default 100. As many more may wait for an accept; past
	// that, yamux resets new ones.
	MaxIncomingStreams int
	// MaxStreamWindow is each stream's receive window, and so the bytes
	// the peer may have in flight on it; default and least 256 KiB.
	MaxStreamWindow uint32
	// Admit, on a listener, is asked about each new TCP connection before
	// its handshake; false closes it at once. Nil admits all.
	Admit func(remote net.Addr) bool
	// MaxHandshakes, on a listener, bounds the handshakes in progress at
	// once; connections past it are closed at once. Default 256.
	MaxHandshakes int
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.HandshakeTimeout <= 0 {
		out.HandshakeTimeout = 10 * time.Second
	}
	if out.IdleTimeout <= 0 {
		out.IdleTimeout = 30 * time.Second
	}
	if out.MaxIncomingStreams <= 0 {
		out.MaxIncomingStreams = 100
	}
	if out.MaxStreamWindow < minWindow {
		out.MaxStreamWindow = minWindow
	}
	if out.MaxHandshakes <= 0 {
		out.MaxHandshakes = 256
	}
	return out
}

// minWindow is yamux's initial stream window, the least it accepts.
const minWindow = 256 << 10

// Timings of the connection's own housekeeping.
const (
	// closeWriteTimeout bounds writing the CLOSE record.
	closeWriteTimeout = time.Second
	// minPingGap spaces the pings that writes ask for.
	minPingGap = 10 * time.Millisecond
	// pingTimeout is how long a ping waits for its answer.
	pingTimeout = 10 * time.Second
)

// conn implements transport.Conn over one TLS connection.
type conn struct {
	raw   net.Conn
	tc    *tls.Conn
	state tls.ConnectionState
	sess  *yamux.Session
	cfg   Config
	reg   registry
	slots chan struct{} // one per accepted stream still open

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once the connection has ended

	closeErr  atomic.Pointer[error] // why it ended; the first reason wins
	closeOnce sync.Once

	received atomic.Uint64
	lastRead atomic.Int64 // unix ns of the last read from the socket
	readErr  atomic.Pointer[error]
	readDone chan struct{} // closed once reading from the socket failed
	peerIdle atomic.Int64  // the peer's idle timeout offer, ns; 0 until known
	params   chan struct{} // the peer's PARAMS arrived: timers to set again

	writeMu  sync.Mutex // one writer of records at a time
	ctlMu    sync.Mutex
	pending  []byte // control records waiting for the writer
	flushing atomic.Bool

	pinging, pingAgain atomic.Bool
	rttMu              sync.Mutex
	srtt, rttvar       time.Duration
}

var (
	_ transport.Conn   = (*conn)(nil)
	_ transport.Stream = (*stream)(nil)
)

// errPeerClosed ends the reader once the peer's CLOSE record arrived.
var errPeerClosed = errors.New("tcp transport: closed by the peer")

// newConn starts the record layer and yamux on a TLS connection whose
// handshake is done.
func newConn(raw net.Conn, tc *tls.Conn, client bool, cfg Config) (*conn, error) {
	c := &conn{raw: raw, tc: tc, state: tc.ConnectionState(), cfg: cfg, done: make(chan struct{}), readDone: make(chan struct{}),
		params: make(chan struct{}, 1),
		slots:  make(chan struct{}, cfg.MaxIncomingStreams)}
	c.reg.init()
	c.lastRead.Store(time.Now().UnixNano())
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	// PARAMS goes first, before yamux writes anything.
	if _, err := tc.Write(appendParams(nil, uint64(cfg.IdleTimeout/time.Millisecond))); err != nil {
		return nil, fmt.Errorf("sending the connection's parameters: %w", err)
	}
	yc := &yamux.Config{
		AcceptBacklog:          cfg.MaxIncomingStreams,
		EnableKeepAlive:        false, // ours: see keepAlive
		KeepAliveInterval:      time.Hour,
		ConnectionWriteTimeout: pingTimeout,
		MaxStreamWindowSize:    cfg.MaxStreamWindow,
		StreamCloseTimeout:     time.Minute,
		StreamOpenTimeout:      0, // a stream waits for an accept as long as its opener lets it
		LogOutput:              io.Discard,
	}
	w := &wire{c: c, r: recordReader{br: bufio.NewReader(counting{c}), handle: c.handle}}
	var err error
	if client {
		c.sess, err = yamux.Client(w, yc)
	} else {
		c.sess, err = yamux.Server(w, yc)
	}
	if err != nil {
		return nil, fmt.Errorf("starting the stream multiplexer: %w", err)
	}
	go c.run()
	c.elicit() // a first round-trip sample
	return c, nil
}

// wire is what yamux reads and writes: the MUX records' bodies.
type wire struct {
	c *conn
	r recordReader
}

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && w.c.readErr.CompareAndSwap(nil, &err) {
		close(w.c.readDone)
	}
	return n, err
}

func (w *wire) Write(p []byte) (int, error) {
	c := w.c
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	for done := 0; done < len(p); {
		chunk := p[done:min(len(p), done+maxMux)]
		if err := c.writeRecordLocked(recMux, chunk); err != nil {
			return done, err
		}
		done += len(chunk)
	}
	return len(p), nil
}

// Close closes the socket; CloseWithError has said goodbye by then.
func (w *wire) Close() error { return w.c.raw.Close() }

// counting counts the reads from the socket, for Stats and the idle timer.
type counting struct{ c *conn }

func (r counting) Read(p []byte) (int, error) {
	n, err := r.c.tc.Read(p)
	if n > 0 {
		r.c.received.Add(1)
		r.c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// bufs keeps the scratch buffers records are assembled in, so that a small
// record and its header leave in one TLS record.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// writeRecordLocked writes one record; writeMu is held.
func (c *conn) writeRecordLocked(typ byte, body []byte) error {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	b := (*bp)[:0]
	if len(body) <= cap(b)-16 {
		b = appendRecord(b, typ, body)
		_, err := c.tc.Write(b)
		*bp = b[:0]
		return err
	}
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(body)))
	if _, err := c.tc.Write(b); err != nil {
		return err
	}
	_, err := c.tc.Write(body)
	return err
}

// queueControl queues a control record for the writer: it leaves before
// any yamux frame handed to the writer after this call.
func (c *conn) queueControl(rec []byte) {
	c.ctlMu.Lock()
	c.pending = append(c.pending, rec...)
	c.ctlMu.Unlock()
	if c.flushing.CompareAndSwap(false, true) {
		go c.flusher()
	}
}

// flusher writes queued control records while there are any, off the
// caller's goroutine (a blocked socket must not block CancelRead).
func (c *conn) flusher() {
	for {
		c.writeMu.Lock()
		c.flushLocked()
		c.writeMu.Unlock()
		c.flushing.Store(false)
		c.ctlMu.Lock()
		more := len(c.pending) > 0
		c.ctlMu.Unlock()
		if !more || !c.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// flushLocked writes the queued control records; writeMu is held.
func (c *conn) flushLocked() error {
	c.ctlMu.Lock()
	p := c.pending
	c.pending = nil
	c.ctlMu.Unlock()
	if len(p) == 0 {
		return nil
	}
	_, err := c.tc.Write(p)
	return err
}

// handle acts on a control record, in the reader's goroutine: it must not
// block.
func (c *conn) handle(ctl control) error {
	switch ctl.typ {
	case recParams:
		c.peerIdle.Store(int64(min(ctl.idle, uint64(time.Hour/time.Millisecond))) * int64(time.Millisecond))
		select {
		case c.params <- struct{}{}:
		default:
		}
	case recClose:
		c.setCloseErr(&transport.ApplicationError{Remote: true, Code: ctl.code, Reason: ctl.reason})
		return errPeerClosed
	case recReset, recStop:
		c.reg.deliver(ctl)
	}
	return nil
}

// setCloseErr records why the connection ended, unless a reason is known
// already; it reports whether this one was first.
func (c *conn) setCloseErr(err error) bool {
	return c.closeErr.CompareAndSwap(nil, &err)
}

// closeError is why the connection ended, or nil while it is open.
func (c *conn) closeError() error {
	if p := c.closeErr.Load(); p != nil {
		return *p
	}
	if !c.sess.IsClosed() {
		return nil
	}
	c.setCloseErr(c.resetError())
	return *c.closeErr.Load()
}

// resetError is the reason of a connection that ended without a close.
func (c *conn) resetError() error {
	cause := errors.New("connection lost")
	if p := c.readErr.Load(); p != nil && !errors.Is(*p, net.ErrClosed) {
		cause = *p
	}
	return &transport.Cause{Kind: transport.ErrReset, Err: cause}
}

// idleTimeout is the smaller of the two sides' offers.
func (c *conn) idleTimeout() time.Duration {
	d := c.cfg.IdleTimeout
	if p := time.Duration(c.peerIdle.Load()); p > 0 && p < d {
		d = p
	}
	return d
}

// keepAlive is the silence after which this side pings; 0 for none.
func (c *conn) keepAlive() time.Duration {
	if c.cfg.KeepAlivePeriod <= 0 {
		return 0
	}
	return min(c.cfg.KeepAlivePeriod, c.idleTimeout()/2)
}

// run ends the connection on the idle timeout, pings on the keep-alive
// period, and finishes once yamux has stopped.
func (c *conn) run() {
	defer close(c.done)
	idle := time.NewTimer(c.idleTimeout())
	defer idle.Stop()
	var keepC <-chan time.Time // nil without keep-alives
	keep := time.NewTimer(time.Hour)
	defer keep.Stop()
	arm := func() {
		idle.Reset(time.Until(c.heard().Add(c.idleTimeout())))
		if ka := c.keepAlive(); ka > 0 {
			keep.Reset(time.Until(c.heard().Add(ka)))
			keepC = keep.C
		}
	}
	arm()
	for {
		select {
		case <-c.params:
			arm()
		case <-c.sess.CloseChan():
			c.finish()
			return
		case <-idle.C:
			if wait := time.Until(c.heard().Add(c.idleTimeout())); wait > 0 {
				idle.Reset(wait)
				continue
			}
			c.setCloseErr(&transport.Cause{Kind: transport.ErrIdleTimeout})
			c.sess.Close()
		case <-keepC:
			if wait := time.Until(c.heard().Add(c.keepAlive())); wait > 0 {
				keep.Reset(wait)
				continue
			}
			c.elicit()
			keep.Reset(c.keepAlive())
		}
	}
}

// heard is when the last read from the socket returned data.
func (c *conn) heard() time.Time { return time.Unix(0, c.lastRead.Load()) }

// finish records why the connection ended and ends its context.
func (c *conn) finish() {
	c.cancel(c.closeError())
}

// elicit makes the peer answer soon: a ping, unless one is in flight, in
// which case another follows it. A write calls it, so that data sent to a
// live peer is answered within a round trip, as QUIC ACKs do, and the
// collector's liveness check sees the answer in Stats.Received.
func (c *conn) elicit() {
	if c.pinging.CompareAndSwap(false, true) {
		go c.pingLoop()
		return
	}
	c.pingAgain.Store(true)
}

func (c *conn) pingLoop() {
	for {
		start := time.Now()
		rtt, err := c.sess.Ping()
		if err == nil {
			c.sample(rtt)
		}
		if err == nil && c.pingAgain.Swap(false) {
			time.Sleep(time.Until(start.Add(minPingGap)))
			continue
		}
		c.pinging.Store(false)
		// A write that asked while this loop was finishing.
		if err != nil || !c.pingAgain.Swap(false) || !c.pinging.CompareAndSwap(false, true) {
			return
		}
	}
}

// sample adds a round-trip sample (RFC 6298's smoothing).
func (c *conn) sample(r time.Duration) {
	c.rttMu.Lock()
	defer c.rttMu.Unlock()
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
		return
	}
	d := c.srtt - r
	if d < 0 {
		d = -d
	}
	c.rttvar = (3*c.rttvar + d) / 4
	c.srtt = (7*c.srtt + r) / 8
}

func (c *conn) Stats() transport.Stats {
	c.rttMu.Lock()
	defer c.rttMu.Unlock()
	return transport.Stats{Received: c.received.Load(), SmoothedRTT: c.srtt, MeanDeviation: c.rttvar}
}

func (c *conn) Context() context.Context             { return c.ctx }
func (c *conn) ConnectionState() tls.ConnectionState { return c.state }
func (c *conn) LocalAddr() net.Addr                  { return c.raw.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr                 { return c.raw.RemoteAddr() }
func (c *conn) Kind() string                         { return transport.KindTCP }

// CloseWithError sends a CLOSE record with code and reason, waits a few
// round trips for the peer to hang up (closing first could make the
// kernel reset the connection, and some discard the CLOSE on a reset),
// and closes. It returns once the connection has ended.
func (c *conn) CloseWithError(code uint64, reason string) error {
	c.closeOnce.Do(func() {
		if !c.setCloseErr(&transport.ApplicationError{Code: code, Reason: cutReason(reason)}) || c.sess.IsClosed() {
			c.sess.Close()
			return
		}
		c.raw.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
		c.writeMu.Lock()
		err := c.flushLocked()
		if err == nil {
			_, err = c.tc.Write(appendClose(nil, code, reason))
		}
		c.writeMu.Unlock()
		if err == nil {
			t := time.NewTimer(c.linger())
			select {
			case <-c.readDone:
			case <-t.C:
			}
			t.Stop()
		}
		c.sess.Close()
	})
	<-c.done
	return nil
}

// linger is how long a close waits for the peer to hang up: four round
// trips, 50 ms to 1 s; 250 ms before a round trip was measured.
func (c *conn) linger() time.Duration {
	rtt := c.Stats().SmoothedRTT
	if rtt == 0 {
		return 250 * time.Millisecond
	}
	return min(max(4*rtt, 50*time.Millisecond), time.Second)
}

// OpenStream opens a stream. yamux waits, without a context, while too
// many of this side's new streams are unacknowledged; ctx bounds that wait.
func (c *conn) OpenStream(ctx context.Context) (transport.Stream, error) {
	if err := c.closeError(); err != nil {
		return nil, err
	}
	type opened struct {
		ys  *yamux.Stream
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		ys, err := c.sess.OpenStream()
		ch <- opened{ys, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, c.streamErr(o.err)
		}
		return c.reg.add(newStream(c, o.ys, false)), nil
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.ys != nil {
				o.ys.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// AcceptStream waits for a free slot (Config.MaxIncomingStreams), then for
// the peer's next stream.
func (c *conn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.closeError()
	}
	ys, err := c.sess.AcceptStreamWithContext(ctx)
	if err != nil {
		<-c.slots
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.streamErr(err)
	}
	return c.reg.add(newStream(c, ys, true)), nil
}

// streamErr turns a yamux session error into the transport's.
func (c *conn) streamErr(err error) error {
	if cerr := c.closeError(); cerr != nil {
		return cerr
	}
	return err
}

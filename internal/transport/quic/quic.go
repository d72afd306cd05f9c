// Package quic puts quic-go behind transport's interface: a thin adapter
// whose only work is to turn quic-go's errors into the transport's. The
// callers keep their quic.Config and quic.Transport (the collector's shares
// its socket with CA discovery and stateless resets) and hand them in.
package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/internal/transport"
)

// Dial opens a QUIC connection to addr.
func Dial(ctx context.Context, addr string, tc *tls.Config, qc *quicgo.Config) (transport.Conn, error) {
	c, err := quicgo.DialAddr(ctx, addr, tc, qc)
	if err != nil {
		return nil, convert(err)
	}
	return Wrap(c), nil
}

// DialWith opens a QUIC connection to addr over tr, a transport the
// caller owns and closes.
func DialWith(ctx context.Context, tr *quicgo.Transport, addr net.Addr, tc *tls.Config, qc *quicgo.Config) (transport.Conn, error) {
	c, err := tr.Dial(ctx, addr, tc, qc)
	if err != nil {
		return nil, convert(err)
	}
	return Wrap(c), nil
}

// Wrap adapts a quic-go connection.
func Wrap(c *quicgo.Conn) transport.Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	context.AfterFunc(c.Context(), func() { cancel(convert(context.Cause(c.Context()))) })
	return &conn{c: c, ctx: ctx}
}

// Unwrap returns the quic-go connection under c, if it is one.
func Unwrap(c transport.Conn) (*quicgo.Conn, bool) {
	qc, ok := c.(*conn)
	if !ok {
		return nil, false
	}
	return qc.c, true
}

// conn implements transport.Conn and transport.Migrating. Its context
// ends with quic-go's, its cause converted.
type conn struct {
	c   *quicgo.Conn
	ctx context.Context
}

var (
	_ transport.Conn      = (*conn)(nil)
	_ transport.Migrating = (*conn)(nil)
	_ transport.Listener  = (*listener)(nil)
	_ transport.Stream    = (*stream)(nil)
)

func (c *conn) OpenStream(ctx context.Context) (transport.Stream, error) {
	s, err := c.c.OpenStreamSync(ctx)
	if err != nil {
		return nil, convert(err)
	}
	return &stream{s: s}, nil
}

func (c *conn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	s, err := c.c.AcceptStream(ctx)
	if err != nil {
		return nil, convert(err)
	}
	return &stream{s: s}, nil
}

func (c *conn) CloseWithError(code uint64, reason string) error {
	return c.c.CloseWithError(quicgo.ApplicationErrorCode(code), reason)
}

func (c *conn) Context() context.Context             { return c.ctx }
func (c *conn) ConnectionState() tls.ConnectionState { return c.c.ConnectionState().TLS }
func (c *conn) LocalAddr() net.Addr                  { return c.c.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr                 { return c.c.RemoteAddr() }
func (c *conn) Kind() string                         { return transport.KindQUIC }
func (c *conn) Migrates()                            {}
func (c *conn) Stats() transport.Stats {
	st := c.c.ConnectionStats()
	return transport.Stats{Received: st.PacketsReceived, SmoothedRTT: st.SmoothedRTT, MeanDeviation: st.MeanDeviation}
}

// stream implements transport.Stream.
type stream struct{ s *quicgo.Stream }

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.s.Read(p)
	return n, convert(err)
}

func (s *stream) Write(p []byte) (int, error) {
	n, err := s.s.Write(p)
	return n, convert(err)
}

func (s *stream) Close() error                       { return convert(s.s.Close()) }
func (s *stream) CancelRead(code uint64)             { s.s.CancelRead(quicgo.StreamErrorCode(code)) }
func (s *stream) CancelWrite(code uint64)            { s.s.CancelWrite(quicgo.StreamErrorCode(code)) }
func (s *stream) SetDeadline(t time.Time) error      { return s.s.SetDeadline(t) }
func (s *stream) SetReadDeadline(t time.Time) error  { return s.s.SetReadDeadline(t) }
func (s *stream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }

// Listen wraps a quic-go listener; closing it closes ln.
func Listen(ln *quicgo.Listener) transport.Listener { return &listener{ln: ln} }

type listener struct{ ln *quicgo.Listener }

func (l *listener) Accept(ctx context.Context) (transport.Conn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, convert(err)
	}
	return Wrap(c), nil
}

func (l *listener) Close() error   { return l.ln.Close() }
func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// convert returns quic-go's connection and stream errors as the
// transport's; others (handshake failures, deadlines, contexts) as they are.
func convert(err error) error {
	if err == nil {
		return nil
	}
	var (
		appErr   *quicgo.ApplicationError
		strErr   *quicgo.StreamError
		idleErr  *quicgo.IdleTimeoutError
		resetErr *quicgo.StatelessResetError
	)
	switch {
	case errors.As(err, &appErr):
		return &transport.ApplicationError{Remote: appErr.Remote, Code: uint64(appErr.ErrorCode), Reason: appErr.ErrorMessage}
	case errors.As(err, &strErr):
		return &transport.StreamError{Code: uint64(strErr.ErrorCode), Remote: strErr.Remote}
	case errors.As(err, &idleErr):
		return &transport.Cause{Kind: transport.ErrIdleTimeout, Err: err}
	case errors.As(err, &resetErr):
		return &transport.Cause{Kind: transport.ErrReset, Err: err}
	}
	return err
}

// Package transport is the one interface Sonde's agent and collector use for
// a mutually authenticated, multiplexed connection: open and accept streams,
// see the peer's certificate, measure the round trip, close with a code and
// a reason the other side reads. Two implementations sit behind it:
// transport/quic (QUIC, the default) and transport/tcp (TLS 1.3 over TCP
// with yamux, for networks that block UDP). Nothing above this package knows
// which one carries a connection, except through Kind, which is for people
// (logs, status, metrics), not for branching.
//
// Errors that end a connection or a stream are the types and values below
// on both implementations, so errors.As and errors.Is work on either:
// *ApplicationError (closed with a code and a reason), *StreamError (a
// stream reset or stopped), ErrIdleTimeout (nothing heard for the idle
// timeout) and ErrReset (the connection ended without a close: a peer that
// restarted, a TCP reset).
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// Kinds of connection, as Conn.Kind reports them.
const (
	KindQUIC = "quic"
	KindTCP  = "tcp"
)

// Conn is a mutually authenticated connection carrying bidirectional
// streams. Its methods are safe for concurrent use.
type Conn interface {
	// OpenStream opens a bidirectional stream; on QUIC it waits, until ctx
	// ends, for the peer to allow one more.
	OpenStream(ctx context.Context) (Stream, error)
	// AcceptStream waits for the next stream the peer opens.
	AcceptStream(ctx context.Context) (Stream, error)
	// CloseWithError closes the connection; the peer's pending and later
	// calls fail with an *ApplicationError{Remote: true} carrying code
	// and reason, and this side's with the same, Remote false.
	CloseWithError(code uint64, reason string) error
	// Context ends when the connection is closed, by either side or by
	// a timeout.
	Context() context.Context
	// ConnectionState is the TLS state: the peer's certificates, ALPN.
	ConnectionState() tls.ConnectionState
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Stats are the connection's liveness and round-trip figures.
	Stats() Stats
	// Kind is KindQUIC or KindTCP.
	Kind() string
}

// Stats are what the collector's liveness check and request timeouts read,
// and what the agent reports of its connection in a snapshot instead of
// timing a fresh handshake.
type Stats struct {
	// Received counts what has arrived from the peer, authenticated: QUIC
	// packets, or reads from the TLS connection on TCP. It only grows; a
	// count that moved means the peer was alive then. On both transports
	// data sent to a live peer makes it answer within a round trip (a QUIC
	// ACK; a ping on TCP, see transport/tcp), so a count that stays put
	// after a send means nothing is answering.
	Received uint64
	// SmoothedRTT and MeanDeviation estimate the round trip (RFC 9002 on
	// QUIC, from the handshake on; from pings, RFC 6298 style, on TCP, the
	// first sent as the connection starts, then with keep-alives and
	// writes). Zero until measured.
	SmoothedRTT   time.Duration
	MeanDeviation time.Duration
}

// Stream is a bidirectional stream of a Conn. Read and Write may be called
// from different goroutines; the Cancel methods and deadlines from any.
type Stream interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// Close ends the write direction cleanly: the peer reads io.EOF once it
	// has read everything written.
	Close() error
	// CancelRead stops reading: this side's reads fail at once with a
	// local *StreamError, and the peer's writes with a remote one
	// carrying code. Data already written to this side is not affected
	// in the other direction.
	CancelRead(code uint64)
	// CancelWrite abandons the write direction: the peer's reads fail with
	// a remote *StreamError carrying code (data not yet read may be lost),
	// this side's writes with a local one.
	CancelWrite(code uint64)
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Listener accepts connections.
type Listener interface {
	// Accept waits for the next connection whose handshake completed.
	Accept(ctx context.Context) (Conn, error)
	// Close stops accepting; connections already accepted stay open.
	Close() error
	Addr() net.Addr
}

// Migrating is implemented by connections that can follow the machine to a
// new local address (QUIC connection migration: the collector validates the
// new path and moves to it). The agent's roaming watcher keeps such a
// connection after an address change if it still answers; a connection
// without it (TCP) cannot outlive its local address and is redialled as
// soon as that address is gone.
type Migrating interface {
	Conn
	// Migrates marks the implementation; it does nothing.
	Migrates()
}

// ApplicationError is a connection closed with a code and a reason
// (CloseWithError). Remote says whether the peer closed it.
type ApplicationError struct {
	Remote bool
	Code   uint64
	Reason string
}

func (e *ApplicationError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	if e.Reason == "" {
		return fmt.Sprintf("connection closed (%s, code %d)", who, e.Code)
	}
	return fmt.Sprintf("connection closed (%s, code %d): %s", who, e.Code, e.Reason)
}

// StreamError is a stream ended abruptly: reset by its writer
// (CancelWrite) or stopped by its reader (CancelRead). Remote says whether
// the peer did it.
type StreamError struct {
	Code   uint64
	Remote bool
}

func (e *StreamError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	return fmt.Sprintf("stream canceled (%s, code %d)", who, e.Code)
}

var (
	// ErrIdleTimeout ends a connection from which nothing arrived for its
	// idle timeout.
	ErrIdleTimeout = errors.New("connection timed out: nothing heard from the peer")
	// ErrReset ends a connection the peer dropped without closing it: it
	// restarted (a QUIC stateless reset) or the TCP connection was reset
	// or cut.
	ErrReset = errors.New("connection reset by the peer")
)

// Cause is an error that is one of the transport's errors (Kind, found by
// errors.Is and errors.As) and keeps the implementation's own error (Err)
// for its message and for errors.As on it.
type Cause struct {
	Kind error
	Err  error
}

func (e *Cause) Error() string {
	if e.Err == nil {
		return e.Kind.Error()
	}
	return e.Err.Error()
}

// Unwrap returns both errors.
func (e *Cause) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

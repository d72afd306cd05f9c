package tcp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/internal/transport/transporttest"
)

func listen(t *testing.T, certs *transporttest.Certs, cfg *tcp.Config) *tcp.Listener {
	t.Helper()
	ln, err := tcp.Listen("127.0.0.1:0", certs.Server, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, ln *tcp.Listener, tc *tls.Config, cfg *tcp.Config) (transport.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := tcp.Dial(ctx, ln.Addr().String(), tc, cfg)
	if err == nil {
		t.Cleanup(func() { c.CloseWithError(0, "") })
	}
	return c, err
}

func accept(t *testing.T, ln *tcp.Listener) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := ln.Accept(ctx)
	if err != nil {
		t.Fatalf("accepting: %v", err)
	}
	t.Cleanup(func() { c.CloseWithError(0, "") })
	return c
}

func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, nil)
	noALPN := certs.Client.Clone()
	noALPN.NextProtos = nil
	otherALPN := certs.Client.Clone()
	otherALPN.NextProtos = []string{"h2"}
	noCert := certs.Client.Clone()
	noCert.Certificates = nil
	for name, tc := range map[string]*tls.Config{"no ALPN": noALPN, "another ALPN": otherALPN, "no client certificate": noCert} {
		c, err := dial(t, ln, tc, nil)
		if err == nil {
			// TLS 1.3 clients finish before the server checks their
			// certificate: the refusal arrives on first use.
			_, err = c.AcceptStream(ctxFor(t, 2*time.Second))
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: the connection was accepted", name)
			}
		}
	}
	if c, err := dial(t, ln, certs.Client, nil); err != nil {
		t.Fatalf("a good client after the refused ones: %v", err)
	} else if got := c.ConnectionState().Version; got != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", got)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestHandshakeDeadline: a connection that never starts its handshake is
// closed once the handshake timeout has passed.
func TestHandshakeDeadline(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, &tcp.Config{HandshakeTimeout: 300 * time.Millisecond})
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	start := time.Now()
	raw.SetReadDeadline(start.Add(5 * time.Second))
	_, err = io.ReadAll(raw)
	if took := time.Since(start); err != nil || took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("a silent connection ended after %s (%v), want about 300 ms", took, err)
	}
}

// TestAdmission: Admit sees each connection's address before its
// handshake and turns it away; MaxHandshakes turns away the connections
// past it.
func TestAdmission(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	var asked atomic.Int32
	refuse := atomic.Bool{}
	ln := listen(t, certs, &tcp.Config{MaxHandshakes: 1, Admit: func(a net.Addr) bool {
		if a.(*net.TCPAddr).IP.IsLoopback() {
			asked.Add(1)
		}
		return !refuse.Load()
	}})
	refuse.Store(true)
	if _, err := dial(t, ln, certs.Client, nil); err == nil {
		t.Error("a connection Admit refused completed its handshake")
	}
	if asked.Load() != 1 {
		t.Errorf("Admit was asked %d times about loopback addresses, want 1", asked.Load())
	}
	refuse.Store(false)
	// One silent connection holds the only handshake slot.
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	time.Sleep(100 * time.Millisecond)
	if _, err := dial(t, ln, certs.Client, nil); err == nil {
		t.Error("a handshake past MaxHandshakes completed")
	}
	raw.Close()
	time.Sleep(100 * time.Millisecond)
	if _, err := dial(t, ln, certs.Client, nil); err != nil {
		t.Errorf("a handshake once the slot was free: %v", err)
	}
}

// TestStreamLimit: past MaxIncomingStreams open streams, new ones wait to
// be accepted, and past as many again they are reset.
func TestStreamLimit(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, &tcp.Config{MaxIncomingStreams: 2})
	cli, err := dial(t, ln, certs.Client, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := accept(t, ln)
	open := func() transport.Stream {
		s, err := cli.OpenStream(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatalf("opening: %v", err)
		}
		s.Write([]byte("x"))
		return s
	}
	var accepted []transport.Stream
	for range 2 {
		open()
		s, err := srv.AcceptStream(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatalf("accepting: %v", err)
		}
		accepted = append(accepted, s)
	}
	opened := []transport.Stream{nil, nil, open(), open(), open()}
	if _, err := srv.AcceptStream(ctxFor(t, 300*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third stream accepted while two are open: %v", err)
	}
	// The fifth found the backlog (two) full and was reset.
	opened[4].SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = opened[4].Read(make([]byte, 1))
	var se *transport.StreamError
	if !errors.As(err, &se) || !se.Remote {
		t.Errorf("the stream past the backlog: %v, want a remote StreamError", err)
	}
	// Done with one: the next waiting stream comes in.
	accepted[0].CancelRead(0)
	accepted[0].Close()
	if _, err := srv.AcceptStream(ctxFor(t, 5*time.Second)); err != nil {
		t.Errorf("accepting once a stream finished: %v", err)
	}
}

// TestAbruptEndIsReset: a peer gone without a CLOSE (its socket closed)
// ends the connection with ErrReset, at once.
func TestAbruptEndIsReset(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, nil)
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcp.Client(ctxFor(t, 5*time.Second), &transporttest.CutConn{Conn: raw}, certs.Client, nil); err != nil {
		t.Fatal(err)
	}
	srv := accept(t, ln)
	raw.Close()
	_, err = srv.AcceptStream(ctxFor(t, 5*time.Second))
	if !errors.Is(err, transport.ErrReset) {
		t.Errorf("accepting after the peer vanished: %v, want ErrReset", err)
	}
}

// TestIdleTimeoutIsTheSmallerOffer: the client offers 1 s, the server
// 30 s; the server times out after 1 s of silence.
func TestIdleTimeoutIsTheSmallerOffer(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, &tcp.Config{IdleTimeout: 30 * time.Second})
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	sock := &transporttest.CutConn{Conn: raw}
	cli, err := tcp.Client(ctxFor(t, 5*time.Second), sock, certs.Client, &tcp.Config{IdleTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.CloseWithError(0, "") })
	srv := accept(t, ln)
	time.Sleep(100 * time.Millisecond) // the client's PARAMS has arrived
	sock.Cut.Store(true)
	start := time.Now()
	_, err = srv.AcceptStream(ctxFor(t, 10*time.Second))
	if !errors.Is(err, transport.ErrIdleTimeout) || time.Since(start) > 3*time.Second {
		t.Errorf("after %s: %v, want ErrIdleTimeout after about 1 s", time.Since(start), err)
	}
}

// TestCloseLeavesTheQueue: connections whose handshake completed before
// Close are still returned by Accept, then it fails.
func TestCloseLeavesTheQueue(t *testing.T) {
	t.Parallel()
	certs := transporttest.NewCerts(t)
	ln := listen(t, certs, nil)
	if _, err := dial(t, ln, certs.Client, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // queued
	ln.Close()
	c := accept(t, ln)
	if c == nil {
		t.Fatal("no connection")
	}
	if _, err := ln.Accept(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after the queue emptied: %v, want net.ErrClosed", err)
	}
}

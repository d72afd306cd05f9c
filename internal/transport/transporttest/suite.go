package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// Options shape the pair a Maker connects.
type Options struct {
	// IdleTimeout is both sides' idle timeout; 0 leaves 30 s.
	IdleTimeout time.Duration
	// KeepAlive is the client's keep-alive period; 0 sends none.
	KeepAlive time.Duration
	// MaxIncomingStreams is both sides' stream limit; 0 leaves 100.
	MaxIncomingStreams int
}

// Pair is a connected client and server.
type Pair struct {
	Client, Server transport.Conn
	// Cut silences the client's path both ways, sockets left open.
	Cut func()
}

// Maker connects a pair on loopback with certs and opts; it closes what it
// made when the test ends.
type Maker func(t *testing.T, certs *Certs, opts Options) Pair

// Run runs the conformance suite on the transport mk makes, whose
// connections are of the given kind.
func Run(t *testing.T, kind string, mk Maker) {
	certs := NewCerts(t)
	pair := func(t *testing.T, o Options) Pair {
		t.Helper()
		p := mk(t, certs, o)
		if p.Client.Kind() != kind || p.Server.Kind() != kind {
			t.Fatalf("Kind() = %q and %q, want %q", p.Client.Kind(), p.Server.Kind(), kind)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p func(*testing.T, Options) Pair)
	}{
		{"OpenAcceptBothWays", testOpenAccept},
		{"ManyConcurrentStreams", testManyStreams},
		{"PeerCertificate", testPeerCertificate},
		{"KeyingMaterialMatches", testKeyingMaterial},
		{"ReadDeadline", testReadDeadline},
		{"WriteDeadline", testWriteDeadline},
		{"CancelReadStopsPeerWrites", testCancelRead},
		{"CancelReadKeepsTheAnswer", testCancelReadKeepsAnswer},
		{"CancelWriteResetsPeerReads", testCancelWrite},
		{"CloseWithErrorCarriesCodeAndReason", testCloseWithError},
		{"IdleTimeout", testIdleTimeout},
		{"KeepAliveHoldsAnIdleConnection", testKeepAlive},
		{"DataSentIsAnswered", testAnswered},
		{"RoundTripKnownWithoutTraffic", testRoundTripKnown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, pair)
		})
	}
}

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %s", what, d)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// echo serves one stream from conn: it reads everything and writes it back.
func echo(t *testing.T, conn transport.Conn) {
	str, err := conn.AcceptStream(ctx(t))
	if err != nil {
		t.Errorf("accepting: %v", err)
		return
	}
	b, err := io.ReadAll(str)
	if err != nil {
		t.Errorf("reading: %v", err)
		return
	}
	if _, err := str.Write(b); err != nil {
		t.Errorf("writing back: %v", err)
	}
	str.Close()
}

// roundTrip opens a stream on conn, sends msg, and returns what comes back.
func roundTrip(t *testing.T, conn transport.Conn, msg []byte) []byte {
	str, err := conn.OpenStream(ctx(t))
	if err != nil {
		t.Errorf("opening: %v", err)
		return nil
	}
	str.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := str.Write(msg); err != nil {
		t.Errorf("writing: %v", err)
		return nil
	}
	str.Close()
	b, err := io.ReadAll(str)
	if err != nil {
		t.Errorf("reading the echo: %v", err)
	}
	return b
}

func testOpenAccept(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	for _, dir := range []struct {
		name           string
		opener, server transport.Conn
	}{{"client opens", p.Client, p.Server}, {"server opens", p.Server, p.Client}} {
		var wg sync.WaitGroup
		wg.Go(func() { echo(t, dir.server) })
		msg := []byte("hello from " + dir.name)
		if got := roundTrip(t, dir.opener, msg); !bytes.Equal(got, msg) {
			t.Errorf("%s: echo %q, want %q", dir.name, got, msg)
		}
		wg.Wait()
	}
}

func testManyStreams(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{MaxIncomingStreams: 100})
	const streams = 40
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() { echo(t, p.Server) })
	}
	for i := range streams {
		wg.Go(func() {
			msg := bytes.Repeat([]byte{byte(i)}, 64<<10+i)
			if got := roundTrip(t, p.Client, msg); !bytes.Equal(got, msg) {
				t.Errorf("stream %d: echo of %d bytes, want %d of %d", i, len(got), len(msg), i)
			}
		})
	}
	within(t, 30*time.Second, "40 streams echoing 64 KiB each", wg.Wait)
}

func testPeerCertificate(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	srv := p.Server.ConnectionState()
	if len(srv.PeerCertificates) == 0 || srv.PeerCertificates[0].Subject.CommonName != ClientName {
		t.Errorf("the server sees client certificates %v, want %q", srv.PeerCertificates, ClientName)
	}
	cli := p.Client.ConnectionState()
	if len(cli.PeerCertificates) == 0 || cli.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Errorf("the client sees server certificates %v", cli.PeerCertificates)
	}
	if srv.NegotiatedProtocol != ALPN || cli.NegotiatedProtocol != ALPN {
		t.Errorf("ALPN %q and %q, want %q", srv.NegotiatedProtocol, cli.NegotiatedProtocol, ALPN)
	}
	if p.Client.RemoteAddr() == nil || p.Server.RemoteAddr() == nil || p.Client.LocalAddr() == nil {
		t.Error("an address is missing")
	}
}

// testKeyingMaterial: both ends of a connection export the same keying
// material (the hello proof covers it: protocol.HelloBinding), and another
// connection's differs.
func testKeyingMaterial(t *testing.T, mk func(*testing.T, Options) Pair) {
	export := func(c transport.Conn) []byte {
		t.Helper()
		b, err := protocol.HelloBinding(c.ConnectionState())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p, q := mk(t, Options{}), mk(t, Options{})
	cli, srv := export(p.Client), export(p.Server)
	if len(cli) != 32 || !bytes.Equal(cli, srv) {
		t.Errorf("the client exports %x, the server %x: want the same 32 bytes", cli, srv)
	}
	if other := export(q.Client); bytes.Equal(other, cli) {
		t.Errorf("two connections export the same keying material %x", cli)
	}
}

// openPair opens a stream from the client and accepts it on the server,
// which first reads the byte the client writes to announce it.
func openPair(t *testing.T, p Pair) (cli, srv transport.Stream) {
	t.Helper()
	cli, err := p.Client.OpenStream(ctx(t))
	if err != nil {
		t.Fatalf("opening: %v", err)
	}
	if _, err := cli.Write([]byte{1}); err != nil {
		t.Fatalf("writing: %v", err)
	}
	srv, err = p.Server.AcceptStream(ctx(t))
	if err != nil {
		t.Fatalf("accepting: %v", err)
	}
	if _, err := io.ReadFull(srv, make([]byte, 1)); err != nil {
		t.Fatalf("reading the first byte: %v", err)
	}
	return cli, srv
}

func testReadDeadline(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	_, srv := openPair(t, p)
	start := time.Now()
	srv.SetReadDeadline(start.Add(200 * time.Millisecond))
	var err error
	within(t, 5*time.Second, "a read past its deadline", func() { _, err = srv.Read(make([]byte, 10)) })
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("the read failed after %s, before its deadline", took)
	}
	// A new deadline revives the stream.
	srv.SetReadDeadline(time.Time{})
	cli2, srv2 := openPair(t, p)
	cli2.Write([]byte("x"))
	if _, err := io.ReadFull(srv2, make([]byte, 1)); err != nil {
		t.Errorf("reading after clearing a deadline: %v", err)
	}
}

func testWriteDeadline(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	cli, _ := openPair(t, p) // the server never reads: the window fills
	cli.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	var err error
	within(t, 10*time.Second, "a write past its deadline", func() {
		buf := make([]byte, 64<<10)
		for err == nil {
			_, err = cli.Write(buf)
		}
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// streamError asserts err is a *transport.StreamError as described.
func streamError(t *testing.T, what string, err error, code uint64, remote bool) {
	t.Helper()
	var se *transport.StreamError
	if !errors.As(err, &se) || se.Code != code || se.Remote != remote {
		t.Errorf("%s: %v (%T), want a StreamError with code %d, remote %v", what, err, err, code, remote)
	}
}

func testCancelRead(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	cli, srv := openPair(t, p)
	srv.CancelRead(7)
	_, err := srv.Read(make([]byte, 1))
	streamError(t, "reading after CancelRead", err, 7, false)
	within(t, 10*time.Second, "the peer's writes to fail", func() {
		buf := make([]byte, 16<<10)
		for err = nil; err == nil; {
			_, err = cli.Write(buf)
		}
	})
	streamError(t, "the peer writing after CancelRead", err, 7, true)
}

// testCancelReadKeepsTheAnswer: the pattern of every exchange, an answer
// written and then reading canceled, must not lose the answer.
func testCancelReadKeepsAnswer(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	for i := range 20 {
		cli, srv := openPair(t, p)
		answer := bytes.Repeat([]byte("answer "), 1000+i)
		if _, err := srv.Write(answer); err != nil {
			t.Fatalf("writing the answer: %v", err)
		}
		srv.CancelRead(0)
		srv.Close()
		time.Sleep(time.Duration(i%3) * time.Millisecond)
		got, err := io.ReadAll(cli)
		if err != nil || !bytes.Equal(got, answer) {
			t.Fatalf("round %d: read %d bytes, %v; want the %d-byte answer and EOF", i, len(got), err, len(answer))
		}
		cli.Close()
	}
}

func testCancelWrite(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	cli, srv := openPair(t, p)
	cli.Write([]byte("half a mess"))
	cli.CancelWrite(9)
	_, err := cli.Write([]byte("more"))
	streamError(t, "writing after CancelWrite", err, 9, false)
	within(t, 10*time.Second, "the peer's reads to fail", func() {
		_, err = io.ReadAll(srv)
	})
	streamError(t, "the peer reading after CancelWrite", err, 9, true)
}

func testCloseWithError(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	_, srv := openPair(t, p)
	var accErr, readErr error
	var wg sync.WaitGroup
	wg.Go(func() { _, accErr = p.Server.AcceptStream(context.Background()) })
	wg.Go(func() { _, readErr = srv.Read(make([]byte, 1)) })
	time.Sleep(50 * time.Millisecond) // both are waiting
	reason := fmt.Sprintf("agent revoked (%s)", "ünïcode")
	p.Client.CloseWithError(401, reason)
	within(t, 5*time.Second, "the peer to see the close", wg.Wait)
	for what, err := range map[string]error{"AcceptStream": accErr, "Read": readErr} {
		var ae *transport.ApplicationError
		if !errors.As(err, &ae) || !ae.Remote || ae.Code != 401 || ae.Reason != reason {
			t.Errorf("peer's %s after CloseWithError: %v (%T), want a remote ApplicationError 401 %q", what, err, err, reason)
		}
	}
	select {
	case <-p.Server.Context().Done():
	case <-time.After(5 * time.Second):
		t.Error("the peer's Context did not end")
	}
	_, err := p.Client.OpenStream(context.Background())
	var ae *transport.ApplicationError
	if !errors.As(err, &ae) || ae.Remote || ae.Code != 401 {
		t.Errorf("opening a stream after CloseWithError: %v, want a local ApplicationError 401", err)
	}
	if p.Client.Context().Err() == nil {
		t.Error("the closer's Context did not end")
	}
}

func testIdleTimeout(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{IdleTimeout: time.Second})
	p.Cut()
	start := time.Now()
	var err error
	within(t, 10*time.Second, "the idle timeout", func() { _, err = p.Server.AcceptStream(context.Background()) })
	if !errors.Is(err, transport.ErrIdleTimeout) {
		t.Errorf("accepting on a silent connection: %v (%T), want ErrIdleTimeout", err, err)
	}
	if took := time.Since(start); took < 800*time.Millisecond || took > 5*time.Second {
		t.Errorf("the idle timeout of 1 s took %s", took)
	}
}

func testKeepAlive(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{IdleTimeout: time.Second, KeepAlive: 200 * time.Millisecond})
	time.Sleep(2500 * time.Millisecond)
	if err := p.Server.Context().Err(); err != nil {
		t.Fatalf("a kept-alive connection ended: %v", context.Cause(p.Server.Context()))
	}
	var wg sync.WaitGroup
	wg.Go(func() { echo(t, p.Server) })
	if got := roundTrip(t, p.Client, []byte("still here")); string(got) != "still here" {
		t.Errorf("echo %q after idling", got)
	}
	wg.Wait()
}

// testAnswered: data written to a live peer whose application does not
// read makes the peer answer (the collector's liveness check relies on
// it), and a round trip gets measured.
func testAnswered(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{})
	_, srv := openPair(t, p)
	time.Sleep(100 * time.Millisecond) // let the handshake's traffic settle
	before := p.Server.Stats().Received
	if _, err := srv.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.Server.Stats().Received == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := p.Server.Stats()
	if st.Received == before {
		t.Error("nothing came back from the peer after a write")
	}
	if st.SmoothedRTT <= 0 {
		t.Errorf("no round trip measured: %+v", st)
	}
}

// testRoundTripKnown: both sides of a connection that carried no stream
// know its round trip soon after the handshake, and keep knowing it: the
// agent reports its connection's round trip instead of dialing a new one
// to time a handshake.
func testRoundTripKnown(t *testing.T, mk func(*testing.T, Options) Pair) {
	p := mk(t, Options{KeepAlive: 100 * time.Millisecond})
	for _, side := range []struct {
		name string
		c    transport.Conn
	}{{"client", p.Client}, {"server", p.Server}} {
		deadline := time.Now().Add(2 * time.Second)
		st := side.c.Stats()
		for st.SmoothedRTT <= 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			st = side.c.Stats()
		}
		if st.SmoothedRTT <= 0 || st.SmoothedRTT > time.Second || st.MeanDeviation < 0 {
			t.Errorf("%s: round trip %s ± %s on loopback, 2 s after connecting with no stream opened", side.name, st.SmoothedRTT, st.MeanDeviation)
		}
	}
	// Through keep-alives alone, the estimate stays there.
	time.Sleep(300 * time.Millisecond)
	if st := p.Client.Stats(); st.SmoothedRTT <= 0 || st.SmoothedRTT > time.Second {
		t.Errorf("client: round trip %s after idling with keep-alives", st.SmoothedRTT)
	}
}

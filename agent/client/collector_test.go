package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// testCollector is just enough of a collector for a real Client to connect
// to over QUIC or TCP on loopback: it welcomes the agent, acknowledges its
// snapshots, and hands each connection to the test, which asks for
// snapshots through ask.
type testCollector struct {
	id         *state.Identity // the agent's, for this collector
	requestKey ed25519.PrivateKey
	tcpAddr    string
	conns      chan transport.Conn
	// snaps, when set, receives each snapshot acknowledged.
	snaps chan *protocol.Snapshot
	// interval, when set, is the health interval the collector's welcome
	// asks for, instead of an hour.
	interval time.Duration
	// heard, when set, receives every message read from the agent, on
	// every stream, as it is read; streams counts the streams it opened.
	heard   chan protocol.Message
	streams atomic.Int32
}

// startTestCollector listens on QUIC and TCP on loopback. The identity's
// collector address is the QUIC one.
func startTestCollector(t testing.TB) *testCollector {
	t.Helper()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		key := mustKey(t)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{issue(2, "collector", x509.ExtKeyUsageServerAuth)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, NextProtos: []string{protocol.ALPN}}
	pub, key, _ := ed25519.GenerateKey(nil)
	tc := &testCollector{requestKey: key, conns: make(chan transport.Conn, 16)}

	qln, err := quicgo.ListenAddr("127.0.0.1:0", server, &quicgo.Config{MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tln, err := tcp.Listen("127.0.0.1:0", server, &tcp.Config{IdleTimeout: 30 * time.Second})
	if err != nil {
		qln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { qln.Close(); tln.Close() })
	tc.tcpAddr = tln.Addr().String()
	for _, ln := range []transport.Listener{tquic.Listen(qln), tln} {
		go func() {
			for {
				conn, err := ln.Accept(context.Background())
				if err != nil {
					return
				}
				go tc.serve(conn)
			}
		}()
	}
	tc.id = &state.Identity{Config: state.Config{AgentID: "agent-1", Collector: qln.Addr().String(), RequestKey: pub},
		Cert: issue(3, "agent-1", x509.ExtKeyUsageClientAuth), CA: ca}
	return tc
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serve welcomes the agent, hands its connection to the test once the
// hello is answered, and acknowledges the snapshots the agent sends.
func (tc *testCollector) serve(conn transport.Conn) {
	defer conn.CloseWithError(0, "")
	for {
		str, err := conn.AcceptStream(context.Background())
		if err != nil {
			return
		}
		tc.streams.Add(1)
		go func() {
			defer str.Close()
			m, err := tc.read(str)
			if err != nil {
				return
			}
			switch m := m.(type) {
			case *protocol.Hello:
				interval := time.Hour
				if tc.interval != 0 {
					interval = tc.interval
				}
				w := &protocol.Welcome{CollectorTime: time.Now().UnixNano(), HealthInterval: int64(interval)}
				binding, err := protocol.HelloBinding(conn.ConnectionState())
				if err != nil {
					return
				}
				w.Proof = protocol.ProveHello(tc.requestKey, m.AgentID, m.Challenge, binding)
				protocol.Write(str, w)
				if _, err := tc.read(str); err != nil {
					return // the introduce
				}
				tc.conns <- conn
			case *protocol.Snapshot:
				protocol.Write(str, &protocol.Ack{AgentID: m.AgentID, BootEpoch: m.BootEpoch, Seq: m.Seq})
				if tc.snaps != nil {
					tc.snaps <- m
				}
			}
		}()
	}
}

// read reads one message from the agent, and hands it to heard.
func (tc *testCollector) read(str transport.Stream) (protocol.Message, error) {
	m, err := protocol.Read(str)
	if err == nil && tc.heard != nil {
		tc.heard <- m
	}
	return m, err
}

// ask sends the agent on conn a signed request and returns the snapshot it
// answers with, acknowledged.
func (tc *testCollector) ask(t testing.TB, conn transport.Conn, req *protocol.SnapshotRequest) *protocol.Snapshot {
	t.Helper()
	snap, err := tc.tryAsk(conn, req)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// tryAsk is ask, returning what went wrong (a *protocol.Error when the
// agent refused) instead of failing the test, for use off the test's
// goroutine.
func (tc *testCollector) tryAsk(conn transport.Conn, req *protocol.SnapshotRequest) (*protocol.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	str, err := conn.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	defer str.Close()
	str.SetDeadline(time.Now().Add(20 * time.Second))
	req.Deadline = time.Now().Add(20 * time.Second).UnixMilli()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	if err := req.Sign(tc.requestKey, tc.id.AgentID, nonce); err != nil {
		return nil, err
	}
	if err := protocol.Write(str, req); err != nil {
		return nil, err
	}
	snap, err := protocol.ReadAs[*protocol.Snapshot](str)
	if err != nil {
		return nil, err
	}
	protocol.Write(str, &protocol.Ack{AgentID: snap.AgentID, BootEpoch: snap.BootEpoch, Seq: snap.Seq})
	return snap, nil
}

// dials counts a dialer's attempts on each transport.
type dials struct{ quic, tcp atomic.Int32 }

// connectedClient runs a Client against tc over kind (QUIC, or TCP with
// QUIC failing at once, as a firewall refusing UDP does) until the test
// ends, and returns it with the collector's side of its connection and
// the count of its dials.
func connectedClient(t testing.TB, tc *testCollector, kind string, opts ...func(*Client)) (*Client, transport.Conn, *dials) {
	t.Helper()
	n := &dials{}
	d := newDialer(nil, tc.id.CA)
	realQUIC := d.quic
	d.quic = func(ctx context.Context, addr string, tlc *tls.Config) (transport.Conn, error) {
		n.quic.Add(1)
		if kind == transport.KindTCP {
			return nil, &net.OpError{Op: "write", Net: "udp", Err: errUDPRefused}
		}
		return realQUIC(ctx, addr, tlc)
	}
	d.tcp = func(ctx context.Context, _ string, tlc *tls.Config) (transport.Conn, error) {
		n.tcp.Add(1)
		return tcp.Dial(ctx, tc.tcpAddr, tlc, tcpConfig())
	}
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), HealthInterval: time.Hour, dialer: d}
	for _, o := range opts {
		o(c)
	}
	ended, runErr := runUntilEnd(t, c)
	select {
	case conn := <-tc.conns:
		if conn.Kind() != kind {
			t.Fatalf("connected over %s, want %s", conn.Kind(), kind)
		}
		return c, conn, n
	case <-ended:
		t.Fatalf("Run ended: %v", *runErr)
	case <-time.After(20 * time.Second):
		t.Fatal("the client did not connect")
	}
	return nil, nil, nil
}

// errUDPRefused is a host firewall's answer to a UDP send.
var errUDPRefused = &net.AddrError{Err: "operation not permitted (test)"}

// runUntilEnd runs c in the background until the test ends. The channel
// it returns is closed when Run returns, with Run's error in *runErr.
func runUntilEnd(t testing.TB, c *Client) (ended <-chan struct{}, runErr *error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		err = c.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return done, &err
}

package quic_test

import (
	"context"
	"net"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"go.uber.org/goleak"

	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the transport suite over QUIC on loopback.
func TestConformance(t *testing.T) {
	transporttest.Run(t, transport.KindQUIC, pair)
}

func pair(t *testing.T, certs *transporttest.Certs, o transporttest.Options) transporttest.Pair {
	t.Helper()
	idle := o.IdleTimeout
	if idle == 0 {
		idle = 30 * time.Second
	}
	streams := int64(o.MaxIncomingStreams)
	if streams == 0 {
		streams = 100
	}
	qc := &quicgo.Config{MaxIdleTimeout: idle, MaxIncomingStreams: streams, HandshakeIdleTimeout: 5 * time.Second}
	ln, err := quicgo.ListenAddr("127.0.0.1:0", certs.Server, qc)
	if err != nil {
		t.Fatal(err)
	}
	l := tquic.Listen(ln)
	t.Cleanup(func() { l.Close() })
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sock := &transporttest.CutPacketConn{PacketConn: udp}
	tr := &quicgo.Transport{Conn: sock}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	cqc := qc.Clone()
	cqc.KeepAlivePeriod = o.KeepAlive
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cli, err := tquic.DialWith(ctx, tr, ln.Addr(), certs.Client, cqc)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() { cli.CloseWithError(0, "") })
	srv, err := l.Accept(ctx)
	if err != nil {
		t.Fatalf("accepting: %v", err)
	}
	t.Cleanup(func() { srv.CloseWithError(0, "") })
	return transporttest.Pair{Client: cli, Server: srv, Cut: func() { sock.Cut.Store(true) }}
}

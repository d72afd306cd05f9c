package tcp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/internal/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the transport suite over TLS and yamux on loopback.
func TestConformance(t *testing.T) {
	transporttest.Run(t, transport.KindTCP, pair)
}

func pair(t *testing.T, certs *transporttest.Certs, o transporttest.Options) transporttest.Pair {
	t.Helper()
	cfg := &tcp.Config{IdleTimeout: o.IdleTimeout, MaxIncomingStreams: o.MaxIncomingStreams, HandshakeTimeout: 5 * time.Second}
	ln, err := tcp.Listen("127.0.0.1:0", certs.Server, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	sock := &transporttest.CutConn{Conn: raw}
	ccfg := *cfg
	ccfg.KeepAlivePeriod = o.KeepAlive
	cli, err := tcp.Client(ctx, sock, certs.Client, &ccfg)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() { cli.CloseWithError(0, "") })
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatalf("accepting: %v", err)
	}
	t.Cleanup(func() { srv.CloseWithError(0, "") })
	return transporttest.Pair{Client: cli, Server: srv, Cut: func() { sock.Cut.Store(true) }}
}

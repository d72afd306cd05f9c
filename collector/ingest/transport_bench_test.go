package ingest_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// benchDial dials the collector like an agent over kind: its
// configurations' timeouts and keep-alives.
func benchDial(ctx context.Context, h *harness, kind string, tc *tls.Config) (transport.Conn, error) {
	if kind == transport.KindTCP {
		return tcp.Dial(ctx, h.addr, tc, &tcp.Config{IdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second})
	}
	return tquic.Dial(ctx, h.addr, tc, &quic.Config{MaxIdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second})
}

// BenchmarkConnectAndHello is an agent's way in on loopback, per
// transport: the handshake (TCP and TLS, or QUIC), the hello and the
// welcome, the collector recording the hello in SQLite; then the agent
// hangs up.
func BenchmarkConnectAndHello(b *testing.B) {
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		b.Run(kind, func(b *testing.B) {
			h := newHarness(b, 0)
			id := h.enroll(b, "bench")
			tc := h.clientTLS(&id.Cert)
			hello := frame(b, helloFor(id.AgentID))
			for b.Loop() {
				conn, err := benchDial(b.Context(), h, kind, tc)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := exchange[*protocol.Welcome](b, conn, hello); err != nil {
					b.Fatal(err)
				}
				conn.CloseWithError(0, "bench")
			}
		})
	}
}

// BenchmarkOnDemandSnapshot is an on-demand snapshot's round trip on
// loopback, per transport, over a connection already up: the collector
// signs and sends the request, the agent (answering at once with a
// one-probe snapshot) sends the snapshot, the collector stores it in
// SQLite and acks it.
func BenchmarkOnDemandSnapshot(b *testing.B) {
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		b.Run(kind, func(b *testing.B) {
			h := newHarness(b, 0)
			id := h.enroll(b, "bench")
			conn, err := benchDial(b.Context(), h, kind, h.clientTLS(&id.Cert))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.CloseWithError(0, "bench over")
			h.hello(b, conn, id)
			go answerRequests(b.Context(), conn, make(chan *protocol.SnapshotRequest, 1), func(req *protocol.SnapshotRequest) *protocol.Snapshot {
				s := h.snapshot(id.AgentID)
				s.Kind, s.RequestID = protocol.KindFull, req.RequestID
				return s
			})
			waitUntil(b, "the agent to be connected", func() bool {
				return h.srv.Connected()[id.AgentID].Transport == kind
			})
			for b.Loop() {
				if _, err := h.srv.RequestSnapshot(b.Context(), id.AgentID, []string{"memory"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package ingest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/transport/transporttest"
	"github.com/sondehq/sonde/protocol"
)

// connectTCP dials the TCP fallback as the identity, over raw when given,
// says hello and waits until the collector counts the agent connected.
func (h *harness) connectTCP(t *testing.T, id *state.Identity, raw net.Conn) transport.Conn {
	t.Helper()
	conn, err := h.dialTCP(t, &id.Cert, raw)
	if err != nil {
		t.Fatalf("dialing TCP as %s: %v", id.AgentID, err)
	}
	h.hello(t, conn, id)
	waitUntil(t, "the agent to be connected", func() bool {
		l, ok := h.srv.Connected()[id.AgentID]
		return ok && l.Transport == transport.KindTCP
	})
	return conn
}

// TestTCPAgent: an agent on the TCP fallback, on QUIC's port number, is
// served as over QUIC: hello, pushes, requests; the collector shows the
// transport; a QUIC connection replaces it, with the reason.
func TestTCPAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	if got, want := h.srv.TCPAddr().(*net.TCPAddr).Port, h.srv.Addr().(*net.UDPAddr).Port; got != want {
		t.Fatalf("TCP on port %d, QUIC on %d: want the same number", got, want)
	}
	id := h.enroll(t, "udp-blocked")
	conn := h.connectTCP(t, id, nil)
	if n := h.obs.connectedOver(transport.KindTCP); n != 1 {
		t.Errorf("observer counts %d agents over TCP, want 1", n)
	}
	snap := h.snapshot(id.AgentID)
	h.push(t, conn, snap)
	if !h.stored(t, snap) {
		t.Fatal("a snapshot acked over TCP is not stored")
	}
	go answerRequests(t.Context(), conn, make(chan *protocol.SnapshotRequest, 1), func(req *protocol.SnapshotRequest) *protocol.Snapshot {
		s := h.snapshot(id.AgentID)
		s.Kind, s.RequestID = protocol.KindFull, req.RequestID
		return s
	})
	if _, err := h.srv.RequestSnapshot(timeout(t), id.AgentID, []string{"memory"}); err != nil {
		t.Fatalf("a request over TCP: %v", err)
	}

	h.connect(t, id) // over QUIC: the newest connection wins
	select {
	case <-conn.Context().Done():
	case <-time.After(patience):
		t.Fatal("the replaced TCP connection is still open")
	}
	var appErr *transport.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &appErr) || !appErr.Remote || appErr.Code != protocol.CodeUnavailable || !strings.Contains(appErr.Reason, "replaced") {
		t.Errorf("the replaced TCP connection ended with %v, want the collector's 503 saying replaced", err)
	}
	waitUntil(t, "the agent to show QUIC", func() bool {
		return h.srv.Connected()[id.AgentID].Transport == transport.KindQUIC
	})
	if q, c := h.obs.connectedOver(transport.KindQUIC), h.obs.connectedOver(transport.KindTCP); q != 1 || c != 0 {
		t.Errorf("observer counts %d over QUIC and %d over TCP, want 1 and 0", q, c)
	}
}

// TestTCPRefusals: the collector's refusals reach a TCP agent with their
// code and reason, and a revoked certificate fails the handshake.
func TestTCPRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	conn, err := h.dialTCP(t, certFrom(t, h.ca, "never-enrolled"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor("never-enrolled")))
	expectRefusal(t, "hello of an agent not enrolled, over TCP", err, protocol.CodeUnauthorized, "not enrolled")

	bad := h.enroll(t, "stolen-laptop")
	conn = h.connectTCP(t, bad, nil)
	if err := h.store.RevokeAgent(t.Context(), bad.AgentID, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Context().Done():
	case <-time.After(patience):
		t.Fatal("a revoked agent's TCP connection stays open")
	}
	var appErr *transport.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &appErr) || appErr.Code != protocol.CodeUnauthorized || !strings.Contains(appErr.Reason, "revoked") {
		t.Errorf("revoked TCP connection closed with %v, want 401 saying revoked", err)
	}
	again, err := h.dialTCP(t, &bad.Cert, nil)
	if err == nil {
		_, err = exchange[*protocol.Welcome](t, again, frame(t, helloFor(bad.AgentID)))
	}
	if err == nil || !strings.Contains(err.Error(), "tls") && !errors.Is(err, transport.ErrReset) {
		t.Errorf("a revoked agent dialing TCP again: %v, want the handshake refused", err)
	}
}

// TestTCPDeadAgentNotAnswering: over TCP too, a request to an agent cut
// off without a word fails as not answering after the answer watch's
// wait, before the silence check would fail it: a live agent's side
// answers what is sent to it (pings), a dead one does not. (As in
// TestDeadAgentNotAnswering, times are speedup times production's.)
func TestTCPDeadAgentNotAnswering(t *testing.T) {
	t.Parallel()
	h := newLivenessHarness(t)
	id := h.enroll(t, "dying-host")
	raw, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	sock := &transporttest.CutConn{Conn: raw}
	h.connectTCP(t, id, sock)
	time.Sleep(300 * time.Millisecond) // the hello's pings have been answered
	sock.Cut.Store(true)
	cut := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second/speedup)
	_, err = h.srv.RequestSnapshot(ctx, id.AgentID, nil)
	cancel()
	var na *ingest.NotAnsweringError
	// Not the silence check's failure either, which reports more than
	// deadSilence.
	if !errors.As(err, &na) || time.Since(cut) >= deadSilence-heardTick || na.Silent > deadSilence {
		t.Fatalf("request to a dead TCP agent: %v after %s, want not answering from the answer watch, within %s", err, time.Since(cut), deadSilence-heardTick)
	}
}

// TestTCPQuietAgentIsAnswering: a live TCP agent that takes its time with
// a request (its keep-alives every agentKeepAlive) past the silence that
// marks a dead agent is not called silent.
func TestTCPQuietAgentIsAnswering(t *testing.T) {
	t.Parallel()
	h := newLivenessHarness(t)
	id := h.enroll(t, "slow-host")
	conn := h.connectTCP(t, id, nil)
	go answerRequests(t.Context(), conn, make(chan *protocol.SnapshotRequest, 1), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Second/speedup) // past deadSilence
	_, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ingest.ErrNotAnswering) {
		t.Fatalf("request to a slow, live TCP agent: %v, want context.DeadlineExceeded", err)
	}
	if _, ok := h.srv.Connected()[id.AgentID]; !ok {
		t.Error("the slow agent was dropped")
	}
}

// TestTCPOff: without a TCP address there is no TCP listener.
func TestTCPOff(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(c *ingest.Config) { c.TCPAddr = "" })
	if a := h.srv.TCPAddr(); a != nil {
		t.Fatalf("TCP listener on %s with TCPAddr empty", a)
	}
	if _, err := h.dialTCP(t, nil, nil); err == nil {
		t.Error("a TCP connection to a collector without TCP succeeded")
	}
}

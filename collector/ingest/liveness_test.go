package ingest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/protocol"
)

// cuttable is a UDP socket whose traffic can be cut both ways at once: to
// the collector, the agent behind it is then gone without a word, as
// after kill -9 or a power cut. It hides the *net.UDPConn so that quic-go
// reads and writes through it.
type cuttable struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cuttable) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// SetReadBuffer and SetWriteBuffer let quic-go size the socket's buffers.
func (c *cuttable) SetReadBuffer(n int) error  { return c.PacketConn.(*net.UDPConn).SetReadBuffer(n) }
func (c *cuttable) SetWriteBuffer(n int) error { return c.PacketConn.(*net.UDPConn).SetWriteBuffer(n) }

func (c *cuttable) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// The liveness tests run speedup times faster than production: their
// collector keeps every liveness time divided by speedup (SpeedUpLiveness)
// and their agents divide their keep-alive period and idle timeout offer
// alike, so every proportion the liveness checks rest on (liveness.go) is
// production's. The times they reason with, production's in brackets:
const (
	speedup = 5
	// collectorIdle is the collector's idle timeout offer (12 s).
	collectorIdle = ingest.IdleTimeout / speedup
	// deadSilence is the silence that marks an agent dead, silentAfter:
	// two of the agents' keep-alive periods (10 s).
	deadSilence = ingest.SilentAfter / speedup
	// heardTick is the resolution of the collector's "last heard" (1 s).
	heardTick = ingest.HeardTick / speedup
	// agentKeepAlive is the agents' keep-alive period (5 s).
	agentKeepAlive = 5 * time.Second / speedup
	// olderAgentIdle is the idle timeout offer of older agents, more than
	// the collector's (30 s).
	olderAgentIdle = 30 * time.Second / speedup
)

// newLivenessHarness is a harness whose collector and agents keep time
// speedup times faster than production. (quic-go raises an idle timeout
// offer it receives to 5 s at least, so a QUIC agent's own idle timeout
// here is 5 s, not collectorIdle; its keep-alive is agentKeepAlive all the
// same, and what the tests check is the collector's side.)
func newLivenessHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarnessWith(t, func(c *ingest.Config) { ingest.SpeedUpLiveness(c, speedup) })
	h.keepAlive, h.agentIdle = agentKeepAlive, olderAgentIdle
	return h
}

// connectCuttable connects as the identity over a cuttable socket, with
// the harness's agents' keep-alive, says hello and waits until the
// collector counts the agent connected.
func (h *harness) connectCuttable(t *testing.T, id *state.Identity) (transport.Conn, *cuttable) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sock := &cuttable{PacketConn: udp}
	tr := &quic.Transport{Conn: sock}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	to, err := net.ResolveUDPAddr("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tquic.DialWith(timeout(t), tr, to, h.clientTLS(&id.Cert),
		&quic.Config{HandshakeIdleTimeout: patience, MaxIdleTimeout: h.agentIdle, KeepAlivePeriod: h.keepAlive})
	if err != nil {
		t.Fatalf("dialing as %s: %v", id.AgentID, err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "test over") })
	h.hello(t, conn, id)
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})
	return conn, sock
}

// settle waits until conn has sent and received nothing for 300 ms.
func settle(t *testing.T, conn transport.Conn) {
	t.Helper()
	qc, _ := tquic.Unwrap(conn)
	count := func() uint64 { st := qc.ConnectionStats(); return st.PacketsSent + st.PacketsReceived }
	last, since := count(), time.Now()
	waitUntil(t, "the connection to fall quiet", func() bool {
		if n := count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= 300*time.Millisecond
	})
}

// TestDeadAgentNotAnswering cuts an agent off without a word: a request
// fails with "not answering" after the answer watch's wait (minAnswerWait),
// not at its deadline, and so does every request until the collector
// drops the connection, which it does after its own idle timeout
// (collectorIdle) although the agent offered olderAgentIdle.
func TestDeadAgentNotAnswering(t *testing.T) {
	t.Parallel()
	h := newLivenessHarness(t)
	id := h.enroll(t, "dying-host")
	conn, sock := h.connectCuttable(t, id)

	const deadline = 25 * time.Second / speedup
	// A packet in flight at the cut (the agent's delayed ack of the
	// welcome) would count as an answer to the request, which would then
	// fail only at deadSilence: cut a quiet connection.
	settle(t, conn)
	sock.cut.Store(true)
	cut := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	_, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil)
	cancel()
	took := time.Since(cut)
	var na *ingest.NotAnsweringError
	if !errors.As(err, &na) || !errors.Is(err, ingest.ErrNotAnswering) {
		t.Fatalf("request to a dead agent: %v (after %s), want a NotAnsweringError", err, took)
	}
	// Without the answer watch, the silence check would fail the request,
	// deadSilence after the agent was last heard (at the earliest, a
	// heardTick less after the cut), with a silence past deadSilence.
	if took >= deadSilence-heardTick || na.Silent > deadSilence {
		t.Errorf("the request failed only after %s, %s after the agent was last heard: the answer watch did not see the agent leave it unacknowledged", took, na.Silent)
	}
	if !strings.Contains(err.Error(), "agent "+id.AgentID+" is not answering (last heard ") || na.Agent != id.AgentID || na.Silent <= 0 {
		t.Errorf("error %q (%+v) does not say which agent is silent, and since when", err, na)
	}
	t.Logf("first request failed after %s: %v", took.Round(time.Millisecond), err)

	// Until the connection is dropped, requests keep failing fast, and
	// once the agent has been silent for deadSilence they say so at once.
	var longest time.Duration
	for {
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		_, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil)
		cancel()
		if errors.Is(err, ingest.ErrOffline) {
			break
		}
		if !errors.Is(err, ingest.ErrNotAnswering) {
			t.Fatalf("request %s after the cut: %v, want not answering or offline", time.Since(cut).Round(time.Millisecond), err)
		}
		if d := time.Since(start); d >= deadline-time.Second/speedup {
			t.Fatalf("a request waited out its deadline (%s)", d)
		}
		errors.As(err, &na)
		longest = max(longest, na.Silent)
		// Dropped at the collector's idle timeout: well before the agent's.
		if since := time.Since(cut); since > (collectorIdle+olderAgentIdle)/2 {
			t.Fatalf("the dead agent still counts as connected %s after the cut (the collector offered an idle timeout of %s, the agent %s)",
				since.Round(time.Millisecond), collectorIdle, olderAgentIdle)
		}
		time.Sleep(100 * time.Millisecond / speedup)
	}
	t.Logf("offline %s after the cut; the longest silence a request reported: %s", time.Since(cut).Round(time.Millisecond), longest)
	if longest < deadSilence {
		t.Errorf("no request reported %s of silence or more (longest %s): the last-heard time is not kept", deadSilence, longest)
	}
	if _, ok := h.srv.Connected()[id.AgentID]; ok {
		t.Error("the agent is offline to requests but listed as connected")
	}
}

// TestQuietAgentIsAnswering holds a request longer than a dead agent is
// given: an agent that acknowledges the request and keeps its connection
// alive (agentKeepAlive), but takes its time, is not called silent, and
// the request ends at its deadline.
func TestQuietAgentIsAnswering(t *testing.T) {
	t.Parallel()
	h := newLivenessHarness(t)
	id := h.enroll(t, "slow-host")
	conn, _ := h.connectCuttable(t, id)
	reqs := make(chan *protocol.SnapshotRequest, 1)
	go answerRequests(t.Context(), conn, reqs, nil)

	const deadline = 12 * time.Second / speedup // past deadSilence, the silence that marks a dead agent (12 s against 10 s)
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	_, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ingest.ErrNotAnswering) {
		t.Fatalf("request to a slow, live agent: %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-reqs:
	default:
		t.Error("the agent never saw the request")
	}
	if _, ok := h.srv.Connected()[id.AgentID]; !ok {
		t.Error("the live agent was dropped")
	}
}

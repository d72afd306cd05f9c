package ingest_test

import (
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/internal/transport"
)

// udpRelay forwards datagrams from a UDP port to the collector's QUIC port
// and back, from the time it starts: before, that port has nobody on it,
// as on a network that drops UDP.
type udpRelay struct {
	pc   net.PacketConn
	to   *net.UDPAddr
	mu   sync.Mutex
	peer map[string]*net.UDPConn
	wg   sync.WaitGroup
}

func startRelay(t *testing.T, addr string, to net.Addr) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the relay cannot take UDP %s: %v", addr, err)
	}
	r := &udpRelay{pc: pc, to: to.(*net.UDPAddr), peer: map[string]*net.UDPConn{}}
	r.wg.Go(r.run)
	t.Cleanup(func() {
		pc.Close()
		r.mu.Lock()
		for _, u := range r.peer {
			u.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
}

func (r *udpRelay) run() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		up := r.peer[from.String()]
		if up == nil {
			if up, err = net.DialUDP("udp", nil, r.to); err != nil {
				r.mu.Unlock()
				continue
			}
			r.peer[from.String()] = up
			r.wg.Go(func() {
				b := make([]byte, 65536)
				for {
					n, err := up.Read(b)
					if err != nil {
						return
					}
					r.pc.WriteTo(b[:n], from)
				}
			})
		}
		r.mu.Unlock()
		up.Write(buf[:n])
	}
}

// TestAgentWhereUDPIsBlocked: the collector's address has TCP on it but no
// UDP (QUIC is elsewhere): the agent enrolls over TCP, taking the CA from
// the handshake, connects and delivers over TCP and says so in its status;
// once QUIC answers on that address, the agent moves to it.
func TestAgentWhereUDPIsBlocked(t *testing.T) {
	t.Parallel()
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := hold.Addr().String()
	hold.Close()
	h := newHarnessWith(t, func(c *ingest.Config) { c.TCPAddr = addr })
	if h.srv.TCPAddr().String() != addr {
		t.Fatalf("TCP on %s, want %s", h.srv.TCPAddr(), addr)
	}

	dir := t.TempDir()
	start := time.Now()
	if _, err := client.Enroll(timeout(t), dir, addr, h.token(t, 1), h.ca.Pin(), testFacts("udp-blocked"), nil); err != nil {
		t.Fatalf("enrolling where UDP is blocked: %v", err)
	}
	t.Logf("enrolled over TCP in %s", time.Since(start).Round(time.Millisecond))
	id, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !id.CA.Equal(h.ca.Cert) {
		t.Fatal("the CA taken from the TCP handshake is not the collector's")
	}

	statusDir := t.TempDir()
	c := &client.Client{ID: id, Probes: probe.NewSet(), Facts: testFacts("udp-blocked"), Log: slog.New(slog.DiscardHandler),
		HealthInterval: time.Hour, StatusDir: statusDir, QUICRetry: 300 * time.Millisecond}
	runClient(t, c)
	waitUntil(t, "the agent to connect over TCP", func() bool {
		return h.srv.Connected()[id.AgentID].Transport == transport.KindTCP
	})
	waitUntil(t, "the agent's status to say TCP", func() bool {
		s, err := status.Read(statusDir)
		return err == nil && s.Connected && s.Transport == "TCP"
	})
	waitUntil(t, "a health snapshot over TCP", func() bool { return h.obs.ingestedCount("health") > 0 })

	startRelay(t, addr, h.srv.Addr())
	waitUntil(t, "the agent to move to QUIC", func() bool {
		return h.srv.Connected()[id.AgentID].Transport == transport.KindQUIC
	})
	waitUntil(t, "the agent's status to say QUIC", func() bool {
		s, err := status.Read(statusDir)
		return err == nil && s.Connected && s.Transport == "QUIC"
	})
	if d := c.Delivery(); d.Reconnects != 1 {
		t.Errorf("%d reconnects, want the one move", d.Reconnects)
	}
}

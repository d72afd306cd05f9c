package ingest_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
)

// What a connected agent costs the collector while it is idle, which is
// nearly all the time: see BENCHMARKS.md, "Collector memory per agent".

// ticketCache is a TLS client session cache that counts the tickets it is
// given.
type ticketCache struct {
	mu   sync.Mutex
	puts int
}

func (c *ticketCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func (c *ticketCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs != nil {
		c.mu.Lock()
		c.puts++
		c.mu.Unlock()
	}
}

func (c *ticketCache) tickets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

// TestNoSessionTickets: the collector issues no TLS session tickets, over
// either transport. Agents resume no sessions (every connection is a full
// mutual handshake, and 0-RTT is off), so a ticket would be sealed for
// nothing on every handshake and held in the connection's buffers.
func TestNoSessionTickets(t *testing.T) {
	h := newHarness(t, 0)
	id := h.enroll(t, "no-tickets")
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		t.Run(kind, func(t *testing.T) {
			cache := &ticketCache{}
			tc := h.clientTLS(&id.Cert)
			tc.ClientSessionCache = cache
			var (
				conn transport.Conn
				err  error
			)
			if kind == transport.KindQUIC {
				conn, err = tquic.Dial(timeout(t), h.addr, tc, &quic.Config{HandshakeIdleTimeout: patience, MaxIdleTimeout: 30 * time.Second})
			} else {
				raw, derr := net.Dial("tcp", h.addr)
				if derr != nil {
					t.Fatal(derr)
				}
				conn, err = tcp.Client(timeout(t), raw, tc, &tcp.Config{IdleTimeout: 30 * time.Second, KeepAlivePeriod: 5 * time.Second})
			}
			if err != nil {
				t.Fatalf("dialing: %v", err)
			}
			defer conn.CloseWithError(0, "test over")
			// A ticket is sent as the handshake completes, ahead of any
			// answer: once the welcome is read, one would have been taken.
			h.hello(t, conn, id)
			if n := cache.tickets(); n != 0 {
				t.Errorf("the collector issued %d session tickets over %s", n, kind)
			}
		})
	}
}

// TestIdleConnectionGoroutines: once an agent has said hello, the
// collector waits for its streams on one goroutine per connection, whose
// stack holds the wait and not the hello's work (the store calls that grew
// it): an idle connection keeps a small stack.
func TestIdleConnectionGoroutines(t *testing.T) {
	h := newHarness(t, 0)
	const agents = 3
	for i := range agents {
		h.connect(t, h.enroll(t, "idle-"+string(rune('a'+i))))
	}
	var waiting, helloes int
	waitUntil(t, "the connections to wait for streams, their hellos over", func() bool {
		waiting, helloes = 0, 0
		for _, g := range goroutines() {
			if bytes.Contains(g, []byte("ingest.(*Server).serveStreams(")) {
				waiting++
			}
			if bytes.Contains(g, []byte("ingest.(*Server).handleConn(")) {
				helloes++
			}
		}
		return waiting == agents && helloes == 0
	})
	if waiting != agents || helloes != 0 {
		t.Errorf("%d goroutines wait for streams, %d are in handleConn; want %d and 0", waiting, helloes, agents)
	}
}

// goroutines returns the frames of every goroutine, one entry each,
// without the "created by" line that names where it was started.
func goroutines() [][]byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out [][]byte
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if i := bytes.Index(g, []byte("\ncreated by ")); i >= 0 {
			g = g[:i]
		}
		out = append(out, g)
	}
	return out
}

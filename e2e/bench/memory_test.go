//go:build bench

package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sync/errgroup"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// The memory rounds hold idle connections open against one real
// collector on loopback: bare in-process agents, each with an enrolled
// identity and its own socket, that say the agent's hello and then only
// keep alive (as soak's TestKeepAliveCost does for QUIC). The agent's own
// timers would add traffic and work; the connection is the one variable.

// settle is the wait after connections open or close, before the
// collector is measured.
const settle = 10 * time.Second

// dialRate paces enrollments and new connections, under the collector's
// limits for one source address (TCP: 50 new connections a second, 200 at
// once; CA discovery: 50 a second).
const dialRate = 40

// The agent's transport settings (agent/client's quicConfig and
// tcpConfig): keep-alives every 5 s, which also keep the connections
// inside the collector's 12 s idle timeout.
func agentQUIC() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: 10 * time.Second, MaxIdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second,
		MaxIncomingStreams: 4, MaxIncomingUniStreams: -1,
		InitialStreamReceiveWindow: 64 << 10, MaxStreamReceiveWindow: 256 << 10,
		InitialConnectionReceiveWindow: 128 << 10, MaxConnectionReceiveWindow: 512 << 10,
	}
}

func agentTCP() *tcp.Config {
	return &tcp.Config{HandshakeTimeout: 10 * time.Second, IdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second,
		MaxIncomingStreams: 4, MaxStreamWindow: 256 << 10}
}

// identity is an enrolled in-process agent.
type identity struct {
	id    *state.Identity
	facts protocol.Facts
}

// collectorMem is the collector's memory at one moment: its RSS from
// /proc; its Go heap in use, goroutines and their stacks from its
// /metrics.
type collectorMem struct {
	rss          int64
	heap, stacks float64
	goroutines   float64
	afterGC      bool // taken just after a garbage collection
}

// memRound is one round: the collector before the connections opened
// (after the last round's closed), and with them, settled.
type memRound struct {
	kind         string
	before, with collectorMem
}

// measureMemory starts a collector, enrolls k identities, measures it
// alone, then runs rounds of k idle connections, QUIC and TCP in turn.
func measureMemory(t *testing.T, k int) (alone collectorMem, rounds []memRound) {
	t.Helper()
	ctx := t.Context()
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	defer col.Proc.Stop(10 * time.Second)
	token, pin := col.Token(t, k)
	ids := enrollIdle(t, ctx, col.QUIC, token, pin, k)
	metrics := "http://" + col.HTTP + "/metrics"
	time.Sleep(settle)
	alone = measureCollector(t, col.Proc.Pid(), metrics, true)
	before := alone
	for _, kind := range []string{kindQUIC, kindTCP, kindQUIC, kindTCP} {
		conns := dialIdle(t, ctx, kind, col.QUIC, ids)
		waitConnected(t, metrics, kind, k)
		time.Sleep(settle)
		with := measureCollector(t, col.Proc.Pid(), metrics, true)
		for _, c := range conns {
			if c.Context().Err() != nil {
				t.Errorf("%s: a connection closed while measured: %v", kind, context.Cause(c.Context()))
				break
			}
		}
		for _, c := range conns {
			c.CloseWithError(0, "measured")
		}
		waitConnected(t, metrics, kind, 0)
		rounds = append(rounds, memRound{kind, before, with})
		time.Sleep(settle)
		before = measureCollector(t, col.Proc.Pid(), metrics, false)
	}
	return alone, rounds
}

// enrollIdle enrolls k identities through client.Enroll, paced, a few at
// a time, with retries.
func enrollIdle(t *testing.T, ctx context.Context, addr, token, pin string, k int) []identity {
	t.Helper()
	base := probe.ReadFacts(ctx)
	root := t.TempDir()
	ids := make([]identity, k)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	tick := time.NewTicker(time.Second / dialRate)
	defer tick.Stop()
	for i := range ids {
		<-tick.C
		facts := base
		facts.Hostname, facts.HostID = fmt.Sprintf("bench-%04d", i), fmt.Sprintf("bench-host-%04d", i)
		dir := filepath.Join(root, facts.Hostname)
		g.Go(func() error {
			var err error
			for attempt := range 5 {
				time.Sleep(time.Duration(attempt) * time.Second)
				ectx, cancel := context.WithTimeout(gctx, time.Minute)
				_, err = client.Enroll(ectx, dir, addr, token, pin, facts, nil)
				cancel()
				if err == nil {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("enrolling %s: %w", facts.Hostname, err)
			}
			id, err := state.Load(dir)
			if err != nil {
				return fmt.Errorf("enrolling %s: %w", facts.Hostname, err)
			}
			ids[i] = identity{id, facts}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// dialIdle connects every identity over kind, paced, says hello and
// leaves the connections idle. The test's end closes any left open.
func dialIdle(t *testing.T, ctx context.Context, kind, addr string, ids []identity) []transport.Conn {
	t.Helper()
	conns := make([]transport.Conn, len(ids))
	var mu sync.Mutex
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			if c != nil {
				c.CloseWithError(0, "test over")
			}
		}
	})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	tick := time.NewTicker(time.Second / dialRate)
	defer tick.Stop()
	for i, a := range ids {
		<-tick.C
		g.Go(func() error {
			c, err := helloIdle(gctx, kind, addr, a)
			if err != nil {
				return fmt.Errorf("%s over %s: %w", a.facts.Hostname, kind, err)
			}
			mu.Lock()
			conns[i] = c
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return conns
}

// helloIdle connects as the agent over kind and says hello as it does.
func helloIdle(ctx context.Context, kind, addr string, a identity) (transport.Conn, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: a.id.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{a.id.Cert}, NextProtos: []string{protocol.ALPN}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var conn transport.Conn
	var err error
	if kind == kindTCP {
		conn, err = tcp.Dial(ctx, addr, tc, agentTCP())
	} else {
		conn, err = tquic.Dial(ctx, addr, tc, agentQUIC())
	}
	if err != nil {
		return nil, err
	}
	if err := hello(ctx, conn, a); err != nil {
		conn.CloseWithError(0, "")
		return nil, err
	}
	return conn, nil
}

func hello(ctx context.Context, conn transport.Conn, a identity) error {
	str, err := conn.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("opening the hello's stream: %w", err)
	}
	defer str.CancelRead(0)
	defer str.Close()
	str.SetDeadline(time.Now().Add(30 * time.Second))
	h := &protocol.Hello{AgentID: a.id.AgentID, AgentVersion: "transport-bench", Versions: []uint8{protocol.Version},
		BootEpoch: time.Now().UnixMilli(), Facts: a.facts, AgentTime: time.Now().UnixNano()}
	if err := protocol.Write(str, h); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if _, err := protocol.ReadAs[*protocol.Welcome](str); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	return nil
}

// waitConnected waits until the collector counts want connections of kind.
func waitConnected(t *testing.T, metrics, kind string, want int) {
	t.Helper()
	label := fmt.Sprintf("transport=%q", strings.ToLower(kind))
	harness.WaitFor(t, fmt.Sprintf("the collector to count %d %s connections", want, kind), 2*time.Minute, func() bool {
		m, err := harness.Scrape(metrics)
		return err == nil && int(m.Sum("sonde_agents_connected", label)) == want
	})
}

// measureCollector samples the collector's memory; with afterGC, just
// after its next garbage collection, so that its heap in use is what is
// live, not also the garbage of the handshakes. Go collects at least every
// two minutes.
func measureCollector(t *testing.T, pid int, metrics string, afterGC bool) collectorMem {
	t.Helper()
	scrape := func() harness.Metrics {
		m, err := harness.Scrape(metrics)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := scrape()
	if afterGC {
		gcs, deadline := m.Sum("go_gc_duration_seconds_count"), time.Now().Add(3*time.Minute)
		for m.Sum("go_gc_duration_seconds_count") == gcs {
			if time.Now().After(deadline) {
				t.Fatal("the collector collected no garbage in 3 minutes")
			}
			time.Sleep(200 * time.Millisecond)
			m = scrape()
		}
	}
	rss, err := harness.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return collectorMem{rss: rss, heap: m.Sum("go_memstats_heap_inuse_bytes"), stacks: m.Sum("go_memstats_stack_inuse_bytes"),
		goroutines: m.Sum("go_goroutines"), afterGC: afterGC}
}

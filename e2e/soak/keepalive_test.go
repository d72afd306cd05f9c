//go:build soak

package soak

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sync/errgroup"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/protocol"
)

// TestKeepAliveCost measures what idle agents cost the collector: its CPU
// and the packets a second, in and out, for N connections that do nothing
// but keep alive, against the same collector with none. It measures each
// keep-alive configuration in turn, in rounds (A, B, A, B), so that the
// load of a shared machine weighs on each alike. The figures and their
// extrapolation to 10,000 agents go to BENCHMARKS.md (Liveness).
//
// The connections are bare QUIC connections with an agent's identity and
// hello, so that the keep-alive is the one variable: the agent's own
// timers (health snapshots, renewal) would add their traffic. The
// collector's offer decides the idle timeout too (the smaller one wins):
// measure the old keep-alive against an older collector build, which
// offers 60 s, to see the old interval.
//
// Knobs (environment): KEEPALIVE_AGENTS (1000), KEEPALIVE_WINDOW (60s),
// KEEPALIVE_ROUNDS (2), KEEPALIVE_CONFIGS ("10s/30s,5s/15s": the agents'
// QUIC KeepAlivePeriod/MaxIdleTimeout pairs), and KEEPALIVE_COLLECTOR,
// another sonde-collector binary to measure.
func TestKeepAliveCost(t *testing.T) {
	n := envInt(t, "KEEPALIVE_AGENTS", 1000)
	window := envDuration(t, "KEEPALIVE_WINDOW", time.Minute)
	rounds := envInt(t, "KEEPALIVE_ROUNDS", 2)
	configs := keepAlives(t, cmp.Or(os.Getenv("KEEPALIVE_CONFIGS"), "10s/30s,5s/15s"))
	colBin := bin
	if path := os.Getenv("KEEPALIVE_COLLECTOR"); path != "" {
		colBin = t.TempDir()
		if err := os.Symlink(path, filepath.Join(colBin, "sonde-collector")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	col := &harness.Collector{Bin: colBin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, n)
	f := newFleet(agentRoot(t), col.QUIC, n, time.Hour, spoolCap)
	began := time.Now()
	if _, err := f.enroll(ctx, token, pin, 40, 16); err != nil {
		t.Fatalf("enrollment: %v\nagent log:\n%s", err, f.log.report())
	}
	t.Logf("enrolled %d agents in %s", n, time.Since(began).Round(time.Second))
	mon := &monitor{pid: col.Proc.Pid(), metrics: "http://" + col.HTTP + "/metrics"}
	connected := func(want int) func() bool {
		return func() bool {
			m, err := mon.scrape()
			return err == nil && int(m.Sum("sonde_agents_connected")) == want
		}
	}

	// The collector alone, after the enrollments' work has settled.
	time.Sleep(10 * time.Second)
	alone := measure(t, mon, nil, window)
	t.Logf("no connection: %s", alone)

	results := make([][]cost, len(configs))
	for r := range rounds {
		for i, ka := range configs {
			conns := dialIdle(t, ctx, f, &quic.Config{
				HandshakeIdleTimeout: 30 * time.Second,
				MaxIdleTimeout:       ka.idle,
				KeepAlivePeriod:      ka.period,
				MaxIncomingStreams:   4,
			})
			harness.WaitFor(t, "the collector to count every connection", 2*time.Minute, connected(n))
			// Let the handshakes' work settle and the keep-alives spread out.
			time.Sleep(max(2*ka.period, 15*time.Second))
			c := measure(t, mon, conns, window)
			t.Logf("round %d, keep-alive %s: %d idle connections: %s", r+1, ka, n, c)
			for _, conn := range conns {
				if conn.Context().Err() != nil {
					t.Errorf("a connection closed during the measurement: %v", context.Cause(conn.Context()))
					break
				}
				conn.CloseWithError(0, "measured")
			}
			harness.WaitFor(t, "the collector to see every connection closed", 2*time.Minute, connected(0))
			results[i] = append(results[i], c)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d idle connections, %s windows, %d rounds; the collector alone: %.2f%% of a core, RSS %.1f MB\n", n, window, rounds,
		100*alone.cores(window), float64(alone.rss)/1e6)
	fmt.Fprintf(&b, "| agents' keep-alive / idle timeout offered | packets per connection | collector CPU, %d connections | per connection | 10,000 agents | packets in + out at 10,000 | QUIC bytes at 10,000 | RSS with %d |\n|---|---|---|---|---|---|---|---|\n", n, n)
	for i, ka := range configs {
		var cpus []string
		var sum cost
		for _, c := range results[i] {
			cpus = append(cpus, fmt.Sprintf("%.2f%%", 100*c.cores(window)))
			sum.cpu += c.cpu
			sum.in += c.in
			sum.out += c.out
			sum.bytesIn += c.bytesIn
			sum.bytesOut += c.bytesOut
			sum.rss = max(sum.rss, c.rss)
		}
		secs := window.Seconds() * float64(len(results[i])) * float64(n) // connection-seconds measured
		perConn := (sum.cpu.Seconds() - alone.cores(window)*window.Seconds()*float64(len(results[i]))) / secs
		fmt.Fprintf(&b, "| %s | %.3f/s in, %.3f/s out (one every %.1f s) | %s of a core | %.1f µs/s | %.1f%% of a core | %.0f/s + %.0f/s | %.0f KB/s | %.0f MB |\n",
			ka, sum.in/secs, sum.out/secs, secs/sum.in, strings.Join(cpus, ", "), 1e6*perConn, 100*(alone.cores(window)+1e4*perConn),
			1e4*sum.in/secs, 1e4*sum.out/secs, 1e4*(sum.bytesIn+sum.bytesOut)/secs/1e3, float64(sum.rss)/1e6)
	}
	t.Logf("summary:\n%s", b.String())
}

// keepAlive is one agent configuration: QUIC KeepAlivePeriod and
// MaxIdleTimeout.
type keepAlive struct{ period, idle time.Duration }

func (k keepAlive) String() string { return k.period.String() + "/" + k.idle.String() }

// keepAlives parses "10s/30s,5s/15s".
func keepAlives(t *testing.T, s string) []keepAlive {
	var out []keepAlive
	for _, pair := range strings.Split(s, ",") {
		p, i, ok := strings.Cut(pair, "/")
		period, err1 := time.ParseDuration(p)
		idle, err2 := time.ParseDuration(i)
		if !ok || err1 != nil || err2 != nil || period <= 0 || idle <= 0 {
			t.Fatalf("KEEPALIVE_CONFIGS: %q is not PERIOD/IDLE such as 5s/15s", pair)
		}
		out = append(out, keepAlive{period, idle})
	}
	return out
}

// cost is what one measurement window saw.
type cost struct {
	cpu               time.Duration // the collector's, user + system
	in, out           float64       // packets to and from the collector, as its peers count them
	bytesIn, bytesOut float64       // their QUIC bytes (UDP and IP headers not counted)
	rss               int64         // the collector's at the end
}

func (c cost) cores(window time.Duration) float64 { return c.cpu.Seconds() / window.Seconds() }

func (c cost) String() string {
	return fmt.Sprintf("collector CPU %s, packets in %.0f, out %.0f, RSS %.1f MB", c.cpu, c.in, c.out, float64(c.rss)/1e6)
}

// measure samples the collector and the peers' packet counters across
// window. The peers are the collector's only traffic: what they sent it
// received, and the other way round (loopback loses nothing).
func measure(t *testing.T, mon *monitor, conns []*quic.Conn, window time.Duration) cost {
	t.Helper()
	count := func() (c cost) {
		for _, conn := range conns {
			st := conn.ConnectionStats()
			c.in += float64(st.PacketsSent)
			c.out += float64(st.PacketsReceived)
			c.bytesIn += float64(st.BytesSent)
			c.bytesOut += float64(st.BytesReceived)
		}
		return c
	}
	s0, err := mon.sample()
	if err != nil {
		t.Fatal(err)
	}
	c0 := count()
	time.Sleep(window)
	s1, err := mon.sample()
	if err != nil {
		t.Fatal(err)
	}
	c1 := count()
	return cost{cpu: s1.cpu - s0.cpu, in: c1.in - c0.in, out: c1.out - c0.out, bytesIn: c1.bytesIn - c0.bytesIn, bytesOut: c1.bytesOut - c0.bytesOut,
		rss: s1.rss}
}

// dialIdle opens one connection per enrolled agent with qc, each from its
// own socket as real agents are, says hello and leaves it idle. The
// connections close when the test ends.
func dialIdle(t *testing.T, ctx context.Context, f *fleet, qc *quic.Config) []*quic.Conn {
	t.Helper()
	conns := make([]*quic.Conn, len(f.agents))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var mu sync.Mutex
	for i, a := range f.agents {
		g.Go(func() error {
			conn, err := helloIdle(gctx, f.addr, a, qc)
			if err != nil {
				return fmt.Errorf("%s: %w", a.facts.Hostname, err)
			}
			mu.Lock()
			conns[i] = conn
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.CloseWithError(0, "test over")
			}
		}
	})
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	return conns
}

// helloIdle connects as the agent and says hello the way the agent does.
func helloIdle(ctx context.Context, addr string, a *agent, qc *quic.Config) (*quic.Conn, error) {
	id, err := state.Load(a.dir)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: id.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{id.Cert}, NextProtos: []string{protocol.ALPN}}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(dctx, addr, tc, qc)
	if err != nil {
		return nil, err
	}
	str, err := conn.OpenStreamSync(dctx)
	if err != nil {
		conn.CloseWithError(0, "")
		return nil, err
	}
	defer str.CancelRead(0)
	defer str.Close()
	str.SetDeadline(time.Now().Add(30 * time.Second))
	hello := &protocol.Hello{AgentID: id.AgentID, AgentVersion: "keepalive-bench", Versions: []uint8{protocol.Version},
		BootEpoch: time.Now().UnixMilli(), Facts: a.facts, AgentTime: time.Now().UnixNano()}
	if err := protocol.Write(str, hello); err != nil {
		conn.CloseWithError(0, "")
		return nil, err
	}
	if _, err := protocol.ReadAs[*protocol.Welcome](str); err != nil {
		conn.CloseWithError(0, "")
		return nil, fmt.Errorf("hello: %w", err)
	}
	return conn, nil
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(cmp.Or(os.Getenv(name), def.String()))
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration like 5s", name, os.Getenv(name))
	}
	return d
}

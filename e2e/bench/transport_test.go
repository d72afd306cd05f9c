//go:build bench

package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/e2e/netns"
)

// TestTransportFigures measures, with the real binaries, what each
// transport costs: agent starts alternating between a network that drops
// UDP (TCP) and one that does not (QUIC); on-demand snapshots alternating
// between an agent on each; and idle connections of each kind, in
// alternating rounds, against one collector. It prints the table for
// BENCHMARKS.md.
func TestTransportFigures(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("make bench-transport needs root: it builds network namespaces and drops UDP in them with nftables")
	}
	f := figures{
		starts:   envInt(t, "TRANSPORT_STARTS", 20),
		requests: envInt(t, "TRANSPORT_REQUESTS", 100),
		conns:    envInt(t, "TRANSPORT_CONNS", 300),
		loadFrom: loadAvg(t),
	}
	began := time.Now()
	n := newBenchNet(t)
	f.connect = n.measureStarts(t, f.starts)
	f.onDemand = n.measureOnDemand(t, f.requests)
	n.col.Proc.Stop(10 * time.Second) // its loops are no part of the next figures
	f.alone, f.memory = measureMemory(t, f.conns)
	f.loadTo = loadAvg(t)
	f.wall = time.Since(began)
	t.Logf("figures:\n%s", f.table())
}

// The test network: agents in namespaces A and B, each joined to the
// collector's namespace C by a veth pair. The collector listens on an
// address of C's loopback, which A and B reach through their default
// route, so that one address (and one name in its certificate) serves
// both. A drops UDP when a measurement wants TCP; B never drops anything.
const (
	collectorIP   = "10.203.0.1"
	collectorAddr = collectorIP + ":7443" // QUIC, and TCP on the same port
	collectorHTTP = "127.0.0.1:7080"      // in C
	aAddr, aPeer  = "10.203.1.2/24", "10.203.1.1/24"
	bAddr, bPeer  = "10.203.2.2/24", "10.203.2.1/24"
)

// Kinds of connection as the agent's status file names them.
const (
	kindQUIC = "QUIC"
	kindTCP  = "TCP"
)

// pollEvery is how often the test reads an agent's status file while it
// waits for it to connect: the resolution of the connect times.
const pollEvery = 5 * time.Millisecond

// requestEvery spaces the on-demand requests, under the collector's limit
// of snapshots asked of one agent (2 a second) and the API's for one key
// (20 a second).
const requestEvery = 600 * time.Millisecond

// benchNet is the test network with its collector and two enrolled agents.
type benchNet struct {
	nsA, nsB, nsC *netns.NS
	col           *harness.Collector
	a, b          *enrolled
	api           *api // its connections are made in C
}

// enrolled is an agent's identity, in the namespace it runs in.
type enrolled struct {
	agent string    // the sonde-agent binary
	ns    *netns.NS // nil: the test's own
	state string
	id    string
}

// netns is the name of the agent's namespace for harness.Start: "" for
// the test's own.
func (ag *enrolled) netns() string {
	if ag.ns == nil {
		return ""
	}
	return ag.ns.Name
}

// String names the agent in messages.
func (ag *enrolled) String() string {
	if ag.ns == nil {
		return "the agent"
	}
	return "the agent in " + ag.ns.Name
}

func newBenchNet(t *testing.T) *benchNet {
	t.Helper()
	n := &benchNet{nsA: netns.New(t, "bench-a"), nsB: netns.New(t, "bench-b"), nsC: netns.New(t, "bench-c")}
	netns.Veth(t, n.nsA, "va", aAddr, n.nsC, "ca", aPeer)
	netns.Veth(t, n.nsB, "vb", bAddr, n.nsC, "cb", bPeer)
	n.nsC.Run(t, "ip", "addr", "add", collectorIP+"/32", "dev", "lo")
	n.nsA.Run(t, "ip", "route", "add", "default", "via", strings.TrimSuffix(aPeer, "/24"))
	n.nsB.Run(t, "ip", "route", "add", "default", "via", strings.TrimSuffix(bPeer, "/24"))

	n.col = &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: collectorAddr, HTTP: collectorHTTP,
		Netns: n.nsC.Name, Args: []string{"--san", collectorIP}}
	n.col.Start(t)
	token, pin := n.col.Token(t, 2)
	agent := filepath.Join(bin, "sonde-agent")
	n.a, n.b = enroll(t, agent, n.nsA, collectorAddr, token, pin), enroll(t, agent, n.nsB, collectorAddr, token, pin)

	// The API listens in C: the test's connections to it are made there.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(n.nsC, func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	n.api = newAPI(t, n.col, &http.Client{Transport: tr, Timeout: time.Minute})
	return n
}

// enroll enrolls the agent binary agent, run in ns (nil: the test's own),
// to the collector at addr, with UDP allowed.
func enroll(t *testing.T, agent string, ns *netns.NS, addr, token, pin string) *enrolled {
	t.Helper()
	ag := &enrolled{agent: agent, ns: ns, state: t.TempDir()}
	args := []string{"enroll", "--collector", addr, "--token", token, "--ca-pin", pin, "--state", ag.state}
	var out string
	if ns != nil {
		out = ns.Run(t, agent, args...)
	} else {
		out = harness.Run(t, agent, args...)
	}
	m := regexp.MustCompile(`enrolled as agent (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("enroll printed %q", out)
	}
	ag.id = m[1]
	return ag
}

// dropUDP drops every UDP datagram in and out of ns, or none.
func dropUDP(t *testing.T, ns *netns.NS, drop bool) {
	t.Helper()
	var err error
	if drop {
		err = ns.Loss(100)
	} else {
		err = ns.Heal()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// start is one agent start.
type start struct {
	// outside is from just before the test starts the process to the poll
	// of its status file that first reads "connected" (within pollEvery).
	outside time.Duration
	// inside is the agent's own account in that file: from the start of
	// its connection loop (after loading its state and reading the host's
	// facts) to the collector's answer to its hello.
	inside time.Duration
}

// run starts `sonde-agent run` for ag and waits until its status file
// says it is connected; it returns the process, the start's times and
// the status.
func run(t *testing.T, ag *enrolled, args ...string) (*harness.Proc, start, *status.Status) {
	t.Helper()
	pub := state.PublicDir(ag.state)
	began := time.Now()
	p := harness.Start(t, ag.netns(), ag.agent, append([]string{"run", "--state", ag.state}, args...)...)
	for {
		st, err := status.Read(pub)
		if err == nil && st.PID == p.Pid() && st.Connected {
			return p, start{outside: time.Since(began), inside: st.Since.Sub(st.Started)}, st
		}
		if p.Exited() {
			t.Fatalf("%s exited:\n%s", ag, p.Output())
		}
		if time.Since(began) > time.Minute {
			t.Fatalf("%s did not connect within a minute; status %+v (%v)", ag, st, err)
		}
		time.Sleep(pollEvery)
	}
}

// measureStarts starts the agent in A count times with UDP dropped and
// count times with UDP allowed, alternating, each a fresh process (which
// knows nothing of blocked networks: it tries QUIC first), and stops it
// with SIGTERM once connected.
func (n *benchNet) measureStarts(t *testing.T, count int) map[string][]start {
	t.Helper()
	out := map[string][]start{}
	for i := range 2 * count {
		want := kindQUIC
		if i%2 == 1 {
			want = kindTCP
		}
		dropUDP(t, n.nsA, want == kindTCP)
		p, s, st := run(t, n.a)
		if st.Transport != want {
			t.Errorf("start %d: connected over %q, want %s (UDP dropped: %t)", i+1, st.Transport, want, want == kindTCP)
		} else {
			out[want] = append(out[want], s)
		}
		if !p.Stop(10 * time.Second) {
			t.Logf("start %d: the agent needed SIGKILL after 10 s", i+1)
		}
		time.Sleep(250 * time.Millisecond) // let the collector see it go
	}
	dropUDP(t, n.nsA, false)
	return out
}

// onDemand is what one transport's on-demand requests cost.
type onDemand struct {
	took []time.Duration // each request's wall time, at the HTTP client
	cpu  time.Duration   // the agent process's CPU across the requests, summed
	// series is the agent process's CPU from the first request to the
	// last, idle moments between its requests included: one reading of
	// clock ticks at each end instead of two a request.
	series time.Duration
}

// measureOnDemand runs the agent in A with UDP dropped (TCP) and the one
// in B (QUIC) at once and asks each, in turn, for count snapshots of the
// "system" probe through the collector's API. The agents' health interval
// is an hour, so that no health snapshot falls in a request's CPU.
func (n *benchNet) measureOnDemand(t *testing.T, count int) map[string]*onDemand {
	t.Helper()
	dropUDP(t, n.nsA, true)
	defer dropUDP(t, n.nsA, false)
	type running struct {
		kind string
		ag   *enrolled
		p    *harness.Proc
	}
	var agents []running
	for _, r := range []running{{kindQUIC, n.b, nil}, {kindTCP, n.a, nil}} {
		p, _, st := run(t, r.ag, "--health-interval", "1h")
		if st.Transport != r.kind {
			t.Fatalf("%s connected over %q, want %s", r.ag, st.Transport, r.kind)
		}
		r.p = p
		agents = append(agents, r)
		defer p.Stop(10 * time.Second)
	}
	time.Sleep(3 * time.Second) // the first health snapshots delivered
	out := map[string]*onDemand{kindQUIC: {}, kindTCP: {}}
	for _, a := range agents {
		n.api.snapshot(t, a.ag.id, systemOnly) // warm-up: the API's connection, the probe's first run
	}
	for _, a := range agents {
		out[a.kind].series = -cpuOf(t, a.p)
	}
	next := time.Now()
	for i := range 2 * count {
		a := agents[i%2]
		time.Sleep(time.Until(next))
		next = time.Now().Add(requestEvery)
		cpu0 := cpuOf(t, a.p)
		took, ok := n.api.snapshot(t, a.ag.id, systemOnly)
		cpu1 := cpuOf(t, a.p)
		if ok {
			out[a.kind].took = append(out[a.kind].took, took)
			out[a.kind].cpu += cpu1 - cpu0
		}
	}
	for _, a := range agents {
		out[a.kind].series += cpuOf(t, a.p)
	}
	return out
}

// systemOnly is the body of an on-demand request for the "system" probe,
// run anew each time (see fullSet).
const systemOnly = `{"probes":["system"],"fresh":true}`

// api asks a collector's API for on-demand snapshots, with an l2 key.
type api struct {
	url    string // "http://" and the API's address
	key    string
	client *http.Client
}

// newAPI makes an l2 API key on col and returns a client of its API.
func newAPI(t *testing.T, col *harness.Collector, client *http.Client) *api {
	t.Helper()
	out := harness.Run(t, filepath.Join(bin, "sonde-collector"), "apikey", "create", "bench", "--role", "l2", "--data", col.Data)
	key, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return &api{url: "http://" + col.HTTP, key: key, client: client}
}

// snapshot asks the collector for a snapshot of agent with body (fullSet,
// systemOnly), and returns the request's wall time and whether
// it was answered 201 Created (failing the test when not).
func (a *api) snapshot(t *testing.T, agent, body string) (time.Duration, bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+"/api/v1/agents/"+agent+"/snapshots", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("POST snapshot of %s: %v", agent, err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("POST snapshot of %s: %s: %s (%v)", agent, resp.Status, answer, err)
		return took, false
	}
	return took, true
}

func cpuOf(t *testing.T, p *harness.Proc) time.Duration {
	t.Helper()
	d, err := harness.ProcCPU(strconv.Itoa(p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestAgentFigures measures what the agent costs the machine it runs on,
// beside Debian's node_exporter, in one run (`make bench-agent`): the
// agent built as `make build` builds it, enrolled to a collector on
// loopback, answering on-demand full snapshots through the collector's
// API, in rounds alternating with rounds of scrapes of node_exporter;
// both processes' memory; the agent's CPU idle at its default health
// interval and per health sample; both binaries' sizes. Every figure is
// read from outside the processes (/proc). It prints the table for
// BENCHMARKS.md and asserts only that the measurements happened (the
// agent connected, every request answered 201, every scrape 200), never a
// timing.
//
// Knobs (environment): AGENT_SNAPSHOTS (200 requests to each process),
// AGENT_ROUNDS (10), AGENT_IDLE_SECONDS (120), AGENT_HEALTH_SECONDS (30),
// BENCH_LDFLAGS (the agent's -ldflags; the Makefile passes its own),
// AGENT_ONLY=health (only the idle and the health windows: no requests,
// no node_exporter), AGENT_BIN (a built agent to measure instead of
// building this tree's, to compare two builds in back-to-back runs).
func TestAgentFigures(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("make bench-agent needs root: the agent is measured as it runs when installed, as root, reading every process's /proc files")
	}
	only := healthOnly(t)
	var exporterBin string
	if !only {
		var err error
		if exporterBin, err = exec.LookPath("prometheus-node-exporter"); err != nil {
			t.Fatal("prometheus-node-exporter is not installed: run `scripts/deps.sh bench` (as root it installs Debian's package) " +
				"or `apt-get install -y prometheus-node-exporter`")
		}
	}
	f := agentFigures{
		healthOnly: only,
		snapshots:  envInt(t, "AGENT_SNAPSHOTS", 200),
		rounds:     envInt(t, "AGENT_ROUNDS", 10),
		idle:       time.Duration(envInt(t, "AGENT_IDLE_SECONDS", 120)) * time.Second,
		health:     time.Duration(envInt(t, "AGENT_HEALTH_SECONDS", 30)) * time.Second,
		loadFrom:   loadAvg(t),
	}
	if f.snapshots < f.rounds {
		t.Fatalf("AGENT_SNAPSHOTS=%d is fewer than AGENT_ROUNDS=%d", f.snapshots, f.rounds)
	}
	began := time.Now()
	agentBin := f.buildAgent(t)

	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, 1)
	ag := enroll(t, agentBin, nil, col.QUIC, token, pin)
	var exporterProc *harness.Proc // not measured when nil
	if !f.healthOnly {
		f.exporterSize, f.exporterVersion = fileSize(t, exporterBin), firstLine(t, exporterBin, "--version")
		api := newAPI(t, col, localClient(t))
		exp := startExporter(t, exporterBin)
		f.collect(t, ag, api, exp)
		exporterProc = exp.proc
	}

	// The agent at its default health interval, then at one a second.
	metrics := "http://" + col.HTTP + "/metrics"
	p, _, _ := run(t, ag)
	time.Sleep(settle) // start-up and the first health snapshot done
	f.idleWin = measureWindow(t, p, exporterProc, metrics, f.idle)
	p.Stop(10 * time.Second)
	p, _, _ = run(t, ag, "--health-interval", "1s")
	time.Sleep(settle)
	f.healthWin = measureWindow(t, p, nil, metrics, f.health)
	p.Stop(10 * time.Second)

	f.loadTo = loadAvg(t)
	f.wall = time.Since(began)
	t.Logf("figures:\n%s", f.table())
}

// idleAfter is how long both processes sit idle after the requests before
// their memory is read again: long enough for the Go runtime to collect
// and return some of what the bursts left.
const idleAfter = 30 * time.Second

// collect runs the agent with an hour's health interval, so that nothing
// but the requests runs, and measures it and node_exporter in
// alternating rounds, then their memory.
func (f *agentFigures) collect(t *testing.T, ag *enrolled, api *api, exp *exporter) {
	t.Helper()
	p, _, _ := run(t, ag, "--health-interval", "1h")
	f.agentOnline = memOf(t, p.Pid())
	time.Sleep(3 * time.Second)     // its first health snapshot delivered
	api.snapshot(t, ag.id, fullSet) // warm-up: the API's connection, the probes' first run
	f.exporterLines = exp.lines(t)  // its warm-up
	f.exporterFirst = memOf(t, exp.proc.Pid())

	snapshot := func() (time.Duration, bool) { return api.snapshot(t, ag.id, fullSet) }
	scrape := func() (time.Duration, bool) { return exp.scrape(t) }
	each := f.snapshots / f.rounds
	for r := range f.rounds {
		agentRound := func() { f.agent = append(f.agent, measureRound(t, p, each, snapshot)) }
		exporterRound := func() { f.exporter = append(f.exporter, measureRound(t, exp.proc, each, scrape)) }
		if r%2 == 0 {
			agentRound()
			exporterRound()
		} else {
			exporterRound()
			agentRound()
		}
	}
	f.agentAfter, f.exporterAfter = memOf(t, p.Pid()), memOf(t, exp.proc.Pid())
	time.Sleep(idleAfter)
	f.agentIdle, f.exporterIdle = memOf(t, p.Pid()), memOf(t, exp.proc.Pid())
	p.Stop(10 * time.Second)
}

// fullSet is the body of an on-demand request for the default full set
// of probes (the heavy ones left out), run anew each time: without
// "fresh", the agent answers a request that comes within seconds of the
// last with that run's results (agent/client/shared.go), which would
// measure nothing.
const fullSet = `{"fresh":true}`

// round is one series of requests to one process, one every
// requestEvery.
type round struct {
	took []time.Duration // each answered request's wall time, at the client
	// around is the process's CPU (utime + stime) from just before each
	// answered request to just after it, summed.
	around time.Duration
	// series is its CPU from before the first request to after the last,
	// the gaps between them included: two readings instead of two a
	// request, so less rounding to clock ticks.
	series time.Duration
	n      int // requests made
}

// measureRound makes count requests with do, one every requestEvery, and
// reads p's CPU around each and around them all.
func measureRound(t *testing.T, p *harness.Proc, count int, do func() (time.Duration, bool)) round {
	t.Helper()
	r := round{n: count, series: -cpuOf(t, p)}
	next := time.Now()
	for range count {
		time.Sleep(time.Until(next))
		next = time.Now().Add(requestEvery)
		cpu0 := cpuOf(t, p)
		took, ok := do()
		cpu1 := cpuOf(t, p)
		if ok {
			r.took = append(r.took, took)
			r.around += cpu1 - cpu0
		}
	}
	r.series += cpuOf(t, p)
	return r
}

// window is a stretch of time with no requests.
type window struct {
	took     time.Duration
	cpu      time.Duration // the agent's
	exporter time.Duration // node_exporter's (not scraped), when measured
	samples  int           // health snapshots the collector stored in it
}

// measureWindow reads the CPU of agent (and of exporter unless nil) and
// the collector's count of stored health snapshots at each end of d.
func measureWindow(t *testing.T, agent, exporter *harness.Proc, metrics string, d time.Duration) window {
	t.Helper()
	healths := func() int {
		m, err := harness.Scrape(metrics)
		if err != nil {
			t.Fatal(err)
		}
		return int(m.Sum("sonde_snapshots_ingested_total", `kind="health"`, `duplicate="false"`))
	}
	w := window{samples: -healths(), cpu: -cpuOf(t, agent)}
	if exporter != nil {
		w.exporter = -cpuOf(t, exporter)
	}
	began := time.Now()
	time.Sleep(d)
	w.cpu += cpuOf(t, agent)
	if exporter != nil {
		w.exporter += cpuOf(t, exporter)
	}
	w.took = time.Since(began)
	w.samples += healths()
	if agent.Exited() {
		t.Fatalf("the agent exited during the window:\n%s", agent.Output())
	}
	return w
}

// exporter is Debian's node_exporter, run by the test (not as a service)
// on a loopback port with its default collectors.
type exporter struct {
	proc   *harness.Proc
	url    string // its /metrics
	client *http.Client
}

func startExporter(t *testing.T, path string) *exporter {
	t.Helper()
	addr := harness.FreeAddr(t)
	e := &exporter{url: "http://" + addr + "/metrics", client: localClient(t)}
	e.proc = harness.Start(t, "", path, "--web.listen-address="+addr)
	harness.WaitFor(t, "node_exporter to answer", 30*time.Second, func() bool {
		if e.proc.Exited() {
			t.Fatalf("node_exporter exited:\n%s", e.proc.Output())
		}
		resp, err := e.client.Get("http://" + addr + "/") // its landing page, not a scrape
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// scrape GETs /metrics and reads the answer (gzipped, as Prometheus asks
// for it: Go's client asks too and inflates it); it returns the wall time
// and whether it was 200 OK (failing the test when not).
func (e *exporter) scrape(t *testing.T) (time.Duration, bool) {
	t.Helper()
	began := time.Now()
	resp, err := e.client.Get(e.url)
	if err != nil {
		t.Fatalf("scraping node_exporter: %v", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("scraping node_exporter: %s (%v)", resp.Status, err)
		return took, false
	}
	return took, true
}

// lines scrapes once and counts the series.
func (e *exporter) lines(t *testing.T) int {
	t.Helper()
	resp, err := e.client.Get(e.url)
	if err != nil {
		t.Fatalf("scraping node_exporter: %v", err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && line[0] != '#' {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scraping node_exporter: %v", err)
	}
	return n
}

// healthOnly reads AGENT_ONLY: "health" measures only the idle and the
// health windows, for work on the health path; unset measures everything.
func healthOnly(t *testing.T) bool {
	t.Helper()
	switch v := os.Getenv("AGENT_ONLY"); v {
	case "":
		return false
	case "health":
		return true
	default:
		t.Fatalf("AGENT_ONLY=%q: want health, or nothing for every figure", v)
		return false
	}
}

// buildAgent builds sonde-agent as `make build` does (-trimpath, and the
// Makefile's -ldflags, passed in BENCH_LDFLAGS; "-s -w" without it), or
// takes the one AGENT_BIN names.
func (f *agentFigures) buildAgent(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("AGENT_BIN"); path != "" {
		f.build = "AGENT_BIN=" + path
		f.agentSize, f.agentVersion = fileSize(t, path), firstLine(t, path, "version")
		return path
	}
	ldflags := os.Getenv("BENCH_LDFLAGS")
	if ldflags == "" {
		ldflags = "-s -w"
	}
	dir := t.TempDir()
	flags := []string{"-trimpath", "-ldflags=" + ldflags}
	if err := harness.BuildWith(dir, flags, "./cmd/sonde-agent"); err != nil {
		t.Fatal(err)
	}
	path := dir + "/sonde-agent"
	f.build = fmt.Sprintf("CGO_ENABLED=0 go build -trimpath -ldflags '%s' ./cmd/sonde-agent", ldflags)
	f.agentSize, f.agentVersion = fileSize(t, path), firstLine(t, path, "version")
	return path
}

// memory is a process's resident memory, from /proc/PID/status.
type memory struct{ rss, anon, file int64 }

func memOf(t *testing.T, pid int) memory {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the memory of process %d: %v", pid, err)
	}
	s := string(b)
	return memory{harness.StatusField(s, "VmRSS:"), harness.StatusField(s, "RssAnon:"), harness.StatusField(s, "RssFile:")}
}

// localClient is an HTTP client with its own keep-alive connections,
// closed when the test ends.
func localClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// firstLine runs path with args and returns the first line it printed
// (node_exporter prints its version on standard error).
func firstLine(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", path, strings.Join(args, " "), err, out)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

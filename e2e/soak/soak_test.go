//go:build soak

// Package soak is the bounded soak test (`make soak`): 1,000 simulated
// agents, real client.Clients in this process, against one real
// sonde-collector on loopback, with a few agents restarted every second. It
// checks that the collector's memory and goroutines stay flat, that every
// agent comes back after a restart, and that every snapshot the agents took
// is stored or still in their spool, and prints the figures for
// BENCHMARKS.md.
//
// Knobs (environment): SOAK_DURATION (4m), SOAK_AGENTS (1000),
// SOAK_INTERVAL (3s, the agents' health interval), SOAK_CHURN (3 restarts
// a second), SOAK_AGENT_DIR (/dev/shm: see agentRoot).
package soak

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) { harness.Main(m, &bin) }

// Thresholds: the mean of the last third of the samples against the mean
// of the first third.
const (
	maxRSSGrowth       = 0.25
	maxGoroutineGrowth = 0.10
	goroutineSlack     = 50
	sampleEvery        = 5 * time.Second
	spoolCap           = 256 << 10 // a few hundred health snapshots
)

type config struct {
	agents   int
	duration time.Duration
	interval time.Duration
	churn    int // restarts a second
}

func loadConfig(t *testing.T) config {
	c := config{agents: 1000, duration: 4 * time.Minute, interval: 3 * time.Second, churn: 3}
	dur := func(name string, v *time.Duration) {
		if s := os.Getenv(name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a duration like 4m", name, s)
			}
			*v = d
		}
	}
	num := func(name string, v *int) {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a number", name, s)
			}
			*v = n
		}
	}
	dur("SOAK_DURATION", &c.duration)
	dur("SOAK_INTERVAL", &c.interval)
	num("SOAK_AGENTS", &c.agents)
	num("SOAK_CHURN", &c.churn)
	return c
}

// agentRoot is where the agents keep their state dirs and spools: on
// tmpfs (/dev/shm) when there is one. Each agent spools every snapshot
// before sending it (three fsyncs a snapshot); a real agent does that on its
// own disk, but 1,000 of them on one disk measure the disk, not the
// collector, whose data dir stays on the real disk. SOAK_AGENT_DIR
// overrides it.
func agentRoot(t *testing.T) string {
	root := cmp.Or(os.Getenv("SOAK_AGENT_DIR"), "/dev/shm")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(root, "sonde-soak-agents")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestSoak(t *testing.T) {
	cfg := loadConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, cfg.agents)
	mon := &monitor{pid: col.Proc.Pid(), metrics: "http://" + col.HTTP + "/metrics"}

	// Enrollment, paced under the CA discovery limit.
	f := newFleet(agentRoot(t), col.QUIC, cfg.agents, cfg.interval, spoolCap)
	began := time.Now()
	retried, err := f.enroll(ctx, token, pin, 40, 16)
	if err != nil {
		t.Fatalf("enrollment: %v\nagent log:\n%s", err, f.log.report())
	}
	t.Logf("enrolled %d agents in %s (%d attempts retried)", cfg.agents, time.Since(began).Round(time.Second), retried)

	// Warm-up: every agent connected, as the agents and the collector see it.
	began = time.Now()
	for _, a := range f.agents {
		if err := f.start(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, a := range f.agents {
			f.stop(a)
		}
	}()
	waitConnected(t, "every agent to connect", f, mon, 3*time.Minute)
	// Each start sends two health snapshots at once (one taken before the
	// connection, spooled, and one when connected): let that burst drain.
	waitDrained(t, "the start-up burst to drain from the spools", f, mon, 2*time.Minute)
	t.Logf("warm-up: all %d agents connected and their spools empty in %s", cfg.agents, time.Since(began).Round(time.Second))

	// The soak: churn, and a sample every 5 s.
	churnCtx, stopChurn := context.WithCancel(ctx)
	churnErr := make(chan error, 1)
	go func() { churnErr <- f.churn(ctx, churnCtx, cfg.churn) }()
	var samples []sample
	take := func() sample {
		if col.Proc.Exited() {
			t.Fatalf("the collector exited during the soak")
		}
		s, err := mon.sample()
		if err != nil {
			t.Fatalf("sampling the collector: %v", err)
		}
		d, connected := f.total()
		s.agentsUp, s.agentSpool, s.throttled = connected, d.SpoolRecords, d.Throttled
		t.Logf("%s", s)
		return s
	}
	start := time.Now()
	samples = append(samples, take())
	for time.Since(start) < cfg.duration {
		time.Sleep(time.Until(start.Add(time.Duration(len(samples)) * sampleEvery)))
		samples = append(samples, take())
	}
	stopChurn()
	if err := <-churnErr; err != nil {
		t.Fatalf("churn: %v", err)
	}
	elapsed := time.Since(start)
	self := selfMemory()

	// Flatness.
	third := len(samples) / 3
	if third < 1 {
		t.Fatalf("only %d samples: run longer (SOAK_DURATION)", len(samples))
	}
	first, last := samples[:third], samples[len(samples)-third:]
	rss0, rss1 := mean(first, func(s sample) float64 { return float64(s.rss) }), mean(last, func(s sample) float64 { return float64(s.rss) })
	gr0, gr1 := mean(first, func(s sample) float64 { return float64(s.goroutines) }), mean(last, func(s sample) float64 { return float64(s.goroutines) })
	if rss1 > rss0*(1+maxRSSGrowth) {
		t.Errorf("collector RSS grew %.0f%% (%.1f → %.1f MB), more than %.0f%%", 100*(rss1/rss0-1), rss0/1e6, rss1/1e6, 100*maxRSSGrowth)
	}
	if gr1 > gr0*(1+maxGoroutineGrowth)+goroutineSlack {
		t.Errorf("collector goroutines grew from %.0f to %.0f, more than %.0f%% + %d", gr0, gr1, 100*maxGoroutineGrowth, goroutineSlack)
	}

	// Summary.
	s0, s1 := samples[0], samples[len(samples)-1]
	stored := s1.stored - s0.stored
	f.mu.Lock()
	reconnects := slices.Sorted(slices.Values(f.reconnect))
	f.mu.Unlock()
	var b strings.Builder
	row := func(k, format string, a ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, a...)) }
	fmt.Fprintf(&b, "\n| soak | |\n|---|---|\n")
	row("agents", "%d, health every %s, spool cap %d KB", cfg.agents, cfg.interval, spoolCap>>10)
	row("duration", "%s after a %s warm-up, %d samples", elapsed.Round(time.Second), (start.Sub(began)).Round(time.Second), len(samples))
	row("restarts", "%d (%.1f/s); back connected in p50 %s, max %s", f.restarts.Load(), float64(f.restarts.Load())/elapsed.Seconds(),
		pct(reconnects, 0.5), pct(reconnects, 1))
	row("snapshots stored", "%d in the soak (%.0f/s: one per agent every %.1f s); %.0f duplicates acked again",
		int64(stored), stored/elapsed.Seconds(), float64(cfg.agents)*elapsed.Seconds()/stored, s1.dups-s0.dups)
	row("collector busy answers", "%.0f in the soak; agents' spools held %d snapshots at the end", s1.busy-s0.busy, s1.agentSpool)
	row("collector RSS", "%.1f MB first third, %.1f MB last third (%+.1f%%)", rss0/1e6, rss1/1e6, 100*(rss1/rss0-1))
	row("collector goroutines", "%.0f first third, %.0f last third (%+.1f%%)", gr0, gr1, 100*(gr1/gr0-1))
	row("collector CPU", "%.2f s per 1,000 snapshots (%.0f%% of a core)", (s1.cpu-s0.cpu).Seconds()/stored*1000, 100*(s1.cpu-s0.cpu).Seconds()/elapsed.Seconds())
	row("collector ingest time", "%.1f ms a snapshot on average (store and ack)", 1000*(s1.ingestSum-s0.ingestSum)/(s1.stored+s1.dups-s0.stored-s0.dups))
	row("test process CPU", "%.0f%% of a core (the agents, probes and QUIC)", 100*(s1.selfCPU-s0.selfCPU).Seconds()/elapsed.Seconds())
	row("test process RSS", "%.0f MB with %d agents (peak %.0f MB)", float64(self.rss)/1e6, cfg.agents, float64(self.peak)/1e6)
	t.Logf("summary:%s", b.String())
	if out := collectorWarnings(col.Proc.Output()); out != "" {
		t.Logf("collector warnings and errors:\n%s", out)
	}
	t.Logf("agent warnings and errors:\n%s", cmp.Or(f.log.report(), "  none\n"))

	// After the churn: everyone back, and every spool drained.
	waitConnected(t, "every agent to reconnect after the churn", f, mon, reconnectPatience)
	waitDrained(t, "every agent's spool to drain", f, mon, time.Minute)
	f.mu.Lock()
	if len(f.stuck) > 0 {
		t.Errorf("%d restarted agents did not reconnect within %s: %v", len(f.stuck), reconnectPatience, f.stuck)
	}
	f.mu.Unlock()

	// Stop the fleet, let the last health snapshots land in the spools, and
	// account for every snapshot taken.
	for _, a := range f.agents {
		f.stop(a)
	}
	quiesce(f)
	final, err := mon.sample()
	if err != nil {
		t.Fatal(err)
	}
	account(t, ctx, col, f, final)
	if col.Proc.Exited() {
		t.Errorf("the collector exited")
	}
}

// waitConnected waits until every agent says it is connected and the
// collector counts them all.
func waitConnected(t *testing.T, what string, f *fleet, mon *monitor, patience time.Duration) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		_, up := f.total()
		m, err := mon.scrape()
		if err == nil && up == len(f.agents) && int(m.Sum("sonde_agents_connected")) == len(f.agents) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s: %d agents say they are connected, the collector counts %.0f (%v)\nagent log:\n%s",
				patience, what, up, m.Sum("sonde_agents_connected"), err, f.log.report())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitDrained waits until no agent's spool holds more than the snapshot
// it is sending: the agent spools every snapshot before it sends it, so an
// empty fleet-wide spool is a moment that may never come.
func waitDrained(t *testing.T, what string, f *fleet, mon *monitor, patience time.Duration) {
	t.Helper()
	logged := time.Now()
	harness.WaitFor(t, what, patience, func() bool {
		behind, _ := f.backlog()
		if time.Since(logged) > 10*time.Second {
			logged = time.Now()
			s, err := mon.sample()
			d, up := f.total()
			s.agentsUp, s.agentSpool, s.throttled = up, d.SpoolRecords, d.Throttled
			t.Logf("draining: %d agents hold more than one snapshot | %s %v", behind, s, err)
		}
		return behind == 0
	})
}

// quiesce waits for the goroutines of stopped Clients (a health snapshot
// under way when Run returned) to settle: the fleet's counters stop moving.
func quiesce(f *fleet) {
	last, _ := f.total()
	for range 20 {
		time.Sleep(500 * time.Millisecond)
		now, _ := f.total()
		if now == last {
			return
		}
		last = now
	}
}

// account checks that every snapshot the agents took is either stored once
// or still in its agent's spool, and that the agents' acks match the store.
//
// Acks are counted by the agent probe's delivery counters, summed over every
// Client instance of every agent. An ack can be lost when an agent restarts
// between the collector's commit and the ack's arrival: the agent keeps the
// snapshot in its spool and the next instance sends it again, which the
// collector acks as a duplicate. So the acks received lie between the
// snapshots stored (less those stored but still in a spool at the end) and
// that plus the duplicates the collector acked. The sequence numbers of each
// boot epoch, stored or spooled, must run from 1 without a gap: a gap is a
// snapshot taken and lost.
func account(t *testing.T, ctx context.Context, col *harness.Collector, f *fleet, final sample) {
	t.Helper()
	st, err := harness.ReadStore(ctx, col.DB())
	if err != nil {
		t.Fatalf("reading the store: %v", err)
	}
	if dups := st.Duplicates(); len(dups) > 0 {
		t.Errorf("%d snapshots stored more than once, e.g. %+v", len(dups), dups[0])
	}
	if st.Rows != int(final.stored) {
		t.Errorf("the store holds %d snapshots, the collector's metrics say %.0f were stored", st.Rows, final.stored)
	}
	ours := map[string]bool{}
	for _, a := range f.agents {
		ours[a.id] = true
	}
	type epoch struct {
		agent string
		boot  int64
	}
	seqs := map[epoch]map[uint64]bool{}
	for k := range st.Keys {
		if !ours[k.Agent] {
			t.Errorf("a snapshot from an agent the fleet does not have: %+v", k)
		}
		e := epoch{k.Agent, k.BootEpoch}
		if seqs[e] == nil {
			seqs[e] = map[uint64]bool{}
		}
		seqs[e][k.Seq] = true
	}
	var sum struct {
		delivered, lost, dropped, corrupt uint64
		leftover, leftoverStored          int
	}
	for _, a := range f.agents {
		d := a.delivery()
		sum.delivered += d.Delivered
		sum.lost += d.Lost
		sum.dropped += d.Dropped
		sum.corrupt += d.Corrupt
		left, err := a.leftovers()
		if err != nil {
			t.Errorf("%s: reading the spool: %v", a.facts.Hostname, err)
		}
		if n := a.spoolFiles(); n != len(left) {
			t.Errorf("%s: %d files in the spool dir, the spool holds %d records", a.facts.Hostname, n, len(left))
		}
		for _, s := range left {
			sum.leftover++
			e := epoch{s.AgentID, s.BootEpoch}
			if seqs[e] == nil {
				seqs[e] = map[uint64]bool{}
			}
			if seqs[e][s.Seq] {
				sum.leftoverStored++
			}
			seqs[e][s.Seq] = true
		}
	}
	gaps := 0
	for e, got := range seqs {
		for seq := uint64(1); seq <= uint64(len(got)); seq++ {
			if !got[seq] {
				gaps++
				if gaps <= 5 {
					t.Errorf("agent %s boot %d: seq %d neither stored nor spooled (%d seqs seen)", e.agent, e.boot, seq, len(got))
				}
			}
		}
	}
	if gaps > 0 {
		t.Errorf("%d snapshots taken and lost", gaps)
	}
	if sum.lost+sum.dropped+sum.corrupt > 0 {
		t.Errorf("agents lost %d snapshots, dropped %d for the spool cap, found %d damaged", sum.lost, sum.dropped, sum.corrupt)
	}
	lo, hi := uint64(st.Rows-sum.leftoverStored), uint64(st.Rows)+uint64(final.dups)
	if sum.delivered < lo || sum.delivered > hi {
		t.Errorf("agents received %d acks; the store holds %d snapshots (%d of them still spooled) and the collector acked %.0f duplicates: want %d–%d",
			sum.delivered, st.Rows, sum.leftoverStored, final.dups, lo, hi)
	}
	t.Logf("accounting: %d stored, %d acks received by agents, %d duplicates acked by the collector, %d left in spools at the stop (%d of them stored), %d boot epochs without a gap",
		st.Rows, sum.delivered, int(final.dups), sum.leftover, sum.leftoverStored, len(seqs))
}

// monitor reads the collector process from outside: /proc and /metrics.
type monitor struct {
	pid     int
	metrics string
}

type sample struct {
	at         time.Time
	rss        int64 // bytes
	cpu        time.Duration
	goroutines int
	connected  int           // as the collector counts them
	stored     float64       // snapshots committed, not counting duplicates
	dups       float64       // duplicates acked again
	busy       float64       // snapshots answered "busy, retry later"
	ingestSum  float64       // seconds spent storing and acking, summed
	selfCPU    time.Duration // this process: the agents
	// From the agents' side.
	agentsUp, agentSpool int
	throttled            uint64
}

func (s sample) String() string {
	return fmt.Sprintf("collector rss=%.1fMB goroutines=%d cpu=%.1fs connected=%d stored=%.0f dup=%.0f busy=%.0f ingest=%.0fs | agents up=%d spooled=%d throttled=%d cpu=%.1fs",
		float64(s.rss)/1e6, s.goroutines, s.cpu.Seconds(), s.connected, s.stored, s.dups, s.busy, s.ingestSum, s.agentsUp, s.agentSpool, s.throttled, s.selfCPU.Seconds())
}

func (m *monitor) sample() (sample, error) {
	s := sample{at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
	if err != nil {
		return s, err
	}
	s.rss = harness.StatusField(string(status), "VmRSS:")
	if s.cpu, err = harness.ProcCPU(strconv.Itoa(m.pid)); err != nil {
		return s, err
	}
	mt, err := m.scrape()
	if err != nil {
		return s, err
	}
	s.goroutines = int(mt.Sum("go_goroutines"))
	s.connected = int(mt.Sum("sonde_agents_connected"))
	s.stored = mt.Sum("sonde_snapshots_ingested_total", `duplicate="false"`)
	s.dups = mt.Sum("sonde_snapshots_ingested_total", `duplicate="true"`)
	s.busy = mt.Sum("sonde_snapshots_rejected_total", `reason="busy"`)
	s.ingestSum = mt.Sum("sonde_ingest_duration_seconds_sum")
	s.selfCPU, _ = harness.ProcCPU("self")
	return s, nil
}

func (m *monitor) scrape() (harness.Metrics, error) { return harness.Scrape(m.metrics) }

// selfMemory is this process's resident memory now and at its peak.
func selfMemory() (m struct{ rss, peak int64 }) {
	b, _ := os.ReadFile("/proc/self/status")
	m.rss, m.peak = harness.StatusField(string(b), "VmRSS:"), harness.StatusField(string(b), "VmHWM:")
	return m
}

func mean(ss []sample, f func(sample) float64) float64 {
	var total float64
	for _, s := range ss {
		total += f(s)
	}
	return total / float64(len(ss))
}

// pct is the q quantile of sorted durations.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return sorted[i].Round(time.Millisecond)
}

var logLine = regexp.MustCompile(`level=(WARN|ERROR) msg=("[^"]*"|\S+)`)

// collectorWarnings counts the collector's warnings and errors by message.
func collectorWarnings(output string) string {
	counts, examples := map[string]int{}, map[string][]string{}
	var keys []string
	for line := range strings.Lines(output) {
		if m := logLine.FindStringSubmatch(line); m != nil {
			k := m[1] + " " + m[2]
			if counts[k] == 0 {
				keys = append(keys, k)
			}
			counts[k]++
			if len(examples[k]) < 3 {
				examples[k] = append(examples[k], strings.TrimSpace(line))
			}
		}
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %6d  %s\n", counts[k], k)
		for _, ex := range examples[k] {
			fmt.Fprintf(&b, "            e.g. %s\n", ex)
		}
	}
	return b.String()
}

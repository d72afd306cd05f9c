//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/e2e/netns"
	"github.com/sondehq/sonde/protocol"
)

// Addresses of the test network: agent A -- relay R -- collector C. R does
// not route; only the relay joins the two links.
const (
	agentAddr    = "10.201.1.2/24"
	roamedAddr   = "10.201.1.3/24"
	relayAAddr   = "10.201.1.1/24"
	relayCAddr   = "10.201.2.1/24"
	collAddr     = "10.201.2.2/24"
	relayListen  = "10.201.1.1:7443" // what the agent enrolls with
	collectorUDP = "10.201.2.2:7443"
)

// TestNetworkFaults runs the real agent and collector in network namespaces
// joined by an in-test UDP relay, and puts the link through packet loss,
// added delay, a partition longer than the agent's idle timeout, and a
// change of the agent's address. Health snapshots must keep arriving, or
// arrive later from the spool: in the end every one is stored exactly once,
// and the agent's goroutines and open files are back where they started.
func TestNetworkFaults(t *testing.T) {
	began := time.Now()
	n := newTestNet(t, 0)
	ctx, nsA, relay, col, agent, agentID, w := n.ctx, n.nsA, n.relay, n.col, n.agent, n.agentID, n.w

	// a. Baseline.
	base := w.steady()
	var phases []phase // for the cadence of captures, reported at the end
	t.Logf("a. baseline: %s; delivery latency %s", base, latency(w.health(time.Now().Add(-3*time.Second))))

	// b. 30% loss each way, in A.
	mark := time.Now()
	if err := nsA.Loss(30); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	during := w.arrived(mark)
	if err := nsA.Heal(); err != nil {
		t.Fatal(err)
	}
	phases = append(phases, phase{"b. 30% loss", mark, time.Now()})
	if len(during) < 10 {
		t.Errorf("b. only %d health snapshots arrived in 20 s of 30%% loss", len(during))
	}
	t.Logf("b. 30%% loss, 20 s: %d health snapshots stored meanwhile, latency %s", len(during), latency(during))
	w.flowing("b. after the loss")

	// c. 500 ms more each way, in the relay.
	c := n.slow("c. +500 ms", 500*time.Millisecond, 20*time.Second)
	phases = append(phases, c.phase)
	t.Logf("c. +500 ms each way, 20 s: %s", c)
	checkSlowLink(t, c, time.Second)
	w.flowing("c. after the delay")

	// d. Partition for longer than the connection's 12 s idle timeout.
	before := w.newest()
	mark = time.Now()
	if err := nsA.Partition(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Second)
	spooled := w.spoolFiles()
	arrived := len(w.health(mark.Add(time.Second)))
	if err := nsA.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	phases = append(phases, phase{"d. partition", mark, healed})
	t.Logf("d. partition, 40 s: %d snapshots in the spool at its end, %d captured during it arrived meanwhile",
		spooled, arrived)
	if spooled == 0 {
		t.Errorf("d. the spool was empty after 40 s of partition")
	}
	first := w.flowing("d. after the partition")
	harness.WaitFor(t, "the spool to drain after the partition", 60*time.Second, func() bool { return w.spoolFiles() == 0 })
	drained := time.Now()
	after := w.newest()
	fault := w.triggered(client.TriggerUnreachable)
	switch {
	case fault == nil:
		t.Errorf("d. no snapshot with trigger %s stored", client.TriggerUnreachable)
	case fault.CapturedAt.Before(mark):
		// The agent takes one per trigger per 10 minutes: an earlier phase
		// cost the connection already. Not what this phase is for.
		t.Errorf("d. the newest %s snapshot (seq %d) was captured %s before the partition: an earlier phase broke the connection",
			client.TriggerUnreachable, fault.Seq, mark.Sub(fault.CapturedAt).Round(time.Millisecond))
	case fault.ReceivedAt.Before(healed):
		t.Errorf("d. the fault snapshot was stored at %s, during the partition", fault.ReceivedAt)
	default:
		t.Logf("d. fault snapshot seq %d captured %s into the partition, stored %s after healing",
			fault.Seq, fault.CapturedAt.Sub(mark).Round(time.Millisecond), fault.ReceivedAt.Sub(healed).Round(time.Millisecond))
	}
	t.Logf("d. after healing: a fresh health snapshot stored in %s, spool empty in %s; reconnects %d -> %d",
		first.ReceivedAt.Sub(healed).Round(time.Millisecond), drained.Sub(healed).Round(time.Millisecond),
		before.delivery().Reconnects, after.delivery().Reconnects)
	if after.delivery().Reconnects <= before.delivery().Reconnects {
		t.Errorf("d. reconnects did not grow across a 40 s partition: %d -> %d",
			before.delivery().Reconnects, after.delivery().Reconnects)
	}

	// e. Roaming: the agent's address changes under a live connection.
	// The connection the partition left is seconds old at most: QUIC moves
	// a connection only once its handshake is confirmed and the collector
	// has given it spare connection IDs, and a move before that makes the
	// agent reconnect (its designed fallback). Roaming is tested on a
	// settled connection, as a laptop's is when it changes networks.
	time.Sleep(3 * time.Second)
	w.flowing("e. before the move")
	before = w.newest()
	conns := strings.Count(agent.Output(), "connected to collector")
	moved := time.Now()
	nsA.Run(t, "ip", "addr", "add", roamedAddr, "dev", "va")
	nsA.Run(t, "ip", "addr", "del", agentAddr, "dev", "va")
	if routes := nsA.Run(t, "ip", "route"); !strings.Contains(routes, "default via 10.201.1.1") ||
		!strings.Contains(routes, "10.201.1.0/24 dev va") {
		t.Fatalf("e. routes after the move:\n%s", routes)
	}
	first = w.flowing("e. after the move")
	harness.WaitFor(t, "the agent to notice its new address", 15*time.Second, func() bool {
		return strings.Contains(agent.Output(), "network addresses changed")
	})
	roamed := false
	for _, a := range relay.ClientAddrs() {
		roamed = roamed || strings.HasPrefix(a, "10.201.1.3:")
	}
	if !roamed {
		t.Errorf("e. the relay has no client at the new address: %v", relay.ClientAddrs())
	}
	// A migration that broke after the first packets would show within
	// the next seconds. This wait is also the settle before the final
	// checks: the last fault snapshot's probes, timed out in the partition,
	// and the replay finish.
	time.Sleep(10 * time.Second)
	w.flowing("e. 10 s after the move")
	after = w.newest()
	reconnects := after.delivery().Reconnects - before.delivery().Reconnects
	newConns := strings.Count(agent.Output(), "connected to collector") - conns
	took := first.ReceivedAt.Sub(moved).Round(time.Millisecond)
	// A roaming agent keeps its connection when QUIC moves it to the new
	// path; when the move does not go through, it must notice within its
	// roaming check (5 s) and reconnect, losing nothing (the final checks).
	// Which one happened is logged: in this session's runs the move failed
	// in about half, cause not yet found (README says so).
	switch {
	case reconnects == 0 && newConns == 0:
		t.Logf("e. roaming: the session survived (QUIC connection migration); first snapshot after the move stored in %s, still connected 10 s later; relay clients %d",
			took, relay.Clients())
	case took <= 10*time.Second:
		t.Logf("e. roaming: the connection did not move; the agent reconnected (reconnects +%d, new sessions %d) and the first snapshot after the move was stored in %s",
			reconnects, newConns, took)
	default:
		t.Errorf("e. roaming: the first snapshot after the move was stored only after %s (reconnects +%d, new sessions %d)", took, reconnects, newConns)
	}

	// Final checks.
	var stored *harness.Stored
	var missing []uint64
	var top uint64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if stored, err = harness.ReadStore(ctx, col.DB()); err != nil {
			t.Fatalf("reading the store: %v", err)
		}
		if d := stored.Duplicates(); len(d) > 0 {
			t.Fatalf("stored more than once: %v", d)
		}
		missing, top = gaps(stored, agentID, base.bootEpoch)
		spooled := w.spoolFiles()
		if len(missing) == 0 && spooled == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: seqs missing below %d: %v; %d records in the spool", top, missing, spooled)
		}
	}
	if epochs := bootEpochs(stored, agentID); len(epochs) != 1 {
		t.Errorf("boot epochs %v, want one: the agent restarted?", epochs)
	}
	final := w.steady()
	// The agent takes a health snapshot every 250 ms, whatever the
	// network does: how often it captured in each phase.
	all := w.health(time.Time{})
	for _, p := range phases {
		t.Logf("cadence: %s", p.cadence(w, all))
	}
	d := final.last.delivery()
	t.Logf("final: seqs 1..%d each stored once, %d rows; %s", top, stored.Rows, final)
	t.Logf("final: delivery %+v", *d)
	if d.Lost != 0 || d.Dropped != 0 || d.Corrupt != 0 {
		t.Errorf("the agent lost %d, dropped %d, found %d corrupt", d.Lost, d.Dropped, d.Corrupt)
	}
	// The figures are the least seen over a few seconds, which leaves out
	// what a snapshot in flight holds for a moment (its probes' goroutines
	// and the files they read, a stream's goroutines). What remains may
	// still differ by a few goroutines: quic-go's per-connection goroutines
	// and timers after a reconnect or a migration are not the same in number
	// at every instant, and a probe that timed out in the partition may
	// still be finishing in the background. A leak per snapshot (~150-350
	// of them here) would go far past these; one reconnect cannot tell a
	// leak of one or two per reconnect from this noise. The full probes
	// keep a few descriptors open from one snapshot to the next (the mount
	// table, which the kernel flags when it changes, among them), and the
	// processes probe keeps up to 64 processes' stat files open between
	// listings: the baseline follows only health samples, which on a quiet
	// machine list no process (so 10 were seen), the end follows the fault
	// snapshot's full set, which lists them all (77). A leak per snapshot
	// (400 of them) would still go far past this.
	const goroutineSlack, fdSlack = 5, 5 + 64
	if final.goroutines > base.goroutines+goroutineSlack {
		t.Errorf("goroutines %d at the end, %d at the start; the agent's stacks follow", final.goroutines, base.goroutines)
		// SIGQUIT makes a Go program print every goroutine's stack and exit.
		syscall.Kill(agent.Pid(), syscall.SIGQUIT)
		harness.WaitFor(t, "the agent to dump its goroutines", 10*time.Second, agent.Exited)
		out := agent.Output()
		if i := strings.Index(out, "SIGQUIT"); i >= 0 {
			out = out[i:]
		}
		t.Logf("agent goroutines:\n%s", out)
	}
	if final.openFiles > base.openFiles+fdSlack || final.procFDs > base.procFDs+fdSlack {
		t.Errorf("open files %d (/proc: %d) at the end, %d (/proc: %d) at the start",
			final.openFiles, final.procFDs, base.openFiles, base.procFDs)
	}
	t.Logf("wall time %s", time.Since(began).Round(time.Second))
}

// testNet is the network of the network fault tests, with a collector
// and one enrolled agent on it.
type testNet struct {
	ctx           context.Context
	nsA, nsR, nsC *netns.NS
	relay         *netns.Relay
	col           *harness.Collector
	agent         *harness.Proc
	agentID       string
	w             *watch
}

// newTestNet builds agent A -- relay R -- collector C, with delay added
// each way in R from the start, starts the collector and an agent taking a
// health snapshot every healthEvery, and waits until the agent's snapshots
// arrive and it has settled.
func newTestNet(t *testing.T, delay time.Duration) *testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fault tests need root, for network namespaces and mounts")
	}
	n := &testNet{ctx: context.Background()}
	n.nsA, n.nsR, n.nsC = netns.New(t, "agent"), netns.New(t, "relay"), netns.New(t, "coll")
	nsA, nsR, nsC := n.nsA, n.nsR, n.nsC
	netns.Veth(t, nsA, "va", agentAddr, nsR, "ra", relayAAddr)
	netns.Veth(t, nsR, "rc", relayCAddr, nsC, "vc", collAddr)
	// A default route keeps the agent's network probe from reporting a
	// no-default-route fault; R does not forward, so it leads nowhere else.
	nsA.Run(t, "ip", "route", "add", "default", "via", "10.201.1.1")
	// When the roaming phase deletes the first address, keep the second
	// (and the subnet route) instead of flushing it with the primary.
	nsA.Run(t, "sysctl", "-qw", "net.ipv4.conf.va.promote_secondaries=1")

	var err error
	n.relay, err = netns.NewRelay(nsR, relayListen, collectorUDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.relay.Close() })
	n.relay.SetDelay(delay)

	n.col = &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: collectorUDP, HTTP: "127.0.0.1:7080",
		Netns: nsC.Name, Args: []string{"--san", "10.201.1.1"}}
	n.col.Start(t)
	token, pin := n.col.Token(t, 1)
	stateDir := t.TempDir()
	out := nsA.Run(t, filepath.Join(bin, "sonde-agent"), "enroll", "--collector", relayListen,
		"--token", token, "--ca-pin", pin, "--state", stateDir)
	m := regexp.MustCompile(`enrolled as agent (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("enroll printed %q", out)
	}
	n.agentID = m[1]
	n.agent = harness.Start(t, nsA.Name, filepath.Join(bin, "sonde-agent"), "run", "--state", stateDir,
		"--health-interval", healthEvery.String())

	st, err := sqlite.Open(n.ctx, n.col.DB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n.w = &watch{t: t, ctx: n.ctx, st: st, agentID: n.agentID, pid: n.agent.Pid(), spool: filepath.Join(stateDir, "spool")}

	harness.WaitFor(t, "the first health snapshot", 30*time.Second, func() bool {
		if n.agent.Exited() {
			t.Fatalf("the agent exited:\n%s", n.agent.Output())
		}
		return len(n.w.health(time.Time{})) > 0
	})
	time.Sleep(3 * time.Second) // let the agent settle after connecting
	return n
}

// slowLink is what a stretch of added delay did to delivery.
type slowLink struct {
	phase
	stored   []store.Snapshot // health snapshots stored during the stretch
	up, down netns.Traffic    // what the relay forwarded meanwhile
	late     time.Duration    // the most a datagram left the relay after it was due
	dropped  int64            // datagrams the relay dropped for a full queue
}

func (s slowLink) String() string {
	return fmt.Sprintf("%d health snapshots stored, latency %s; the relay forwarded %s up and %s down, at most %s late, %d dropped",
		len(s.stored), latency(s.stored), s.up, s.down, s.late.Round(time.Millisecond), s.dropped)
}

// slow sets the relay's delay each way for the duration, then puts back the
// delay it had, and reports how delivery fared meanwhile.
func (n *testNet) slow(name string, delay, duration time.Duration) slowLink {
	before := n.relay.Delay()
	n.relay.Stats() // reset the lateness
	up0, down0 := n.relay.Traffic()
	dropped := n.relay.Dropped()
	mark := time.Now()
	n.relay.SetDelay(delay)
	time.Sleep(duration)
	stored := n.w.arrived(mark)
	n.relay.SetDelay(before)
	s := slowLink{phase: phase{name, mark, time.Now()}, stored: stored}
	up1, down1 := n.relay.Traffic()
	s.up, s.down = up1.Sub(up0), down1.Sub(down0)
	_, s.late = n.relay.Stats()
	s.dropped = n.relay.Dropped() - dropped
	return s
}

// checkSlowLink fails the test unless health snapshots arrived steadily
// over a link with the round trip rtt.
//
// Two things bound the rate: the agent takes one every healthEvery (plus
// the time its probes take), and it has replayWindow snapshots in flight at
// once, each taking a round trip to be acknowledged; the collector's stream
// credit, returned after about two round trips, allows the same. So over a
// 1 s round trip about 4 a second arrive, 67-80 of a 20 s window here. Half
// of the lesser bound is a margin that a busy 2-core machine meets. A
// connection whose loss recovery ran away (quic-go v0.65.0 as released: see
// third_party/quic-go/SONDE.md) stored 8, the collector's stream credit,
// which never came back.
//
// Each snapshot costs a handful of datagrams (its stream, the ack, the
// acknowledgements and stream credit): 4-5 here, about 190 in that runaway.
// Many more means QUIC is resending what was not lost.
func checkSlowLink(t *testing.T, s slowLink, rtt time.Duration) {
	t.Helper()
	const replayWindow = 4 // as in agent/client
	window := s.to.Sub(s.from)
	byCadence := float64(window) / float64(healthEvery)
	byRoundTrip := float64(window) / float64(rtt) * replayWindow
	want := int(min(byCadence, byRoundTrip) / 2)
	if len(s.stored) < want {
		t.Errorf("%s: %d health snapshots stored in %s, want at least %d (one every %s, %d in flight over a %s round trip, halved); the relay forwarded %s up and %s down",
			s.name, len(s.stored), window.Round(time.Second), want, healthEvery, replayWindow, rtt, s.up, s.down)
	}
	const perSnapshot = 15
	if sent := s.up.Datagrams + s.down.Datagrams; sent > perSnapshot*int64(max(len(s.stored), want)) {
		t.Errorf("%s: the relay forwarded %d datagrams for %d snapshots, more than %d each: QUIC resent what was not lost?",
			s.name, sent, len(s.stored), perSnapshot)
	}
}

// healthEvery is the agent's health interval in the network fault tests.
const healthEvery = 250 * time.Millisecond

// TestDelaySteady is the delay phase of TestNetworkFaults on its own: a
// round trip of a second, on a connection made over it (a satellite link)
// and on one whose round trip jumps there from under a millisecond (a path
// that moved behind a slow link, a queue that filled). The second is what
// quic-go v0.65.0 as released could not learn; third_party/quic-go fixes it.
func TestDelaySteady(t *testing.T) {
	const delay, window = 500 * time.Millisecond, 20 * time.Second
	t.Run("from the start", func(t *testing.T) {
		n := newTestNet(t, delay)
		s := n.slow("1 s round trip", delay, window)
		t.Logf("%s, %s: %s", s.name, window, s)
		checkSlowLink(t, s, 2*delay)
	})
	t.Run("jump", func(t *testing.T) {
		n := newTestNet(t, 0)
		s := n.slow("round trip up to 1 s", delay, window)
		t.Logf("%s, %s: %s", s.name, window, s)
		checkSlowLink(t, s, 2*delay)
	})
}

// watch reads what the collector stored for one agent, and the agent's
// spool and descriptors.
type watch struct {
	t       *testing.T
	ctx     context.Context
	st      *sqlite.Store
	agentID string
	pid     int
	spool   string
}

// health returns the health snapshots captured at or after since, newest
// first.
func (w *watch) health(since time.Time) []store.Snapshot {
	return w.healthWhere(func(s store.Snapshot) bool { return !s.CapturedAt.Before(since) })
}

// arrived returns the health snapshots stored at or after since, whenever
// captured, newest first.
func (w *watch) arrived(since time.Time) []store.Snapshot {
	return w.healthWhere(func(s store.Snapshot) bool { return !s.ReceivedAt.Before(since) })
}

// healthWhere returns the stored health snapshots that keep holds for,
// newest first.
func (w *watch) healthWhere(keep func(store.Snapshot) bool) []store.Snapshot {
	w.t.Helper()
	list, err := w.st.Snapshots(w.ctx, w.agentID, store.SnapshotFilter{Kind: "health", Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return slices.DeleteFunc(list, func(s store.Snapshot) bool { return !keep(s) })
}

// triggered returns the newest stored snapshot with trigger, or nil.
func (w *watch) triggered(trigger string) *store.Snapshot {
	w.t.Helper()
	list, err := w.st.Snapshots(w.ctx, w.agentID, store.SnapshotFilter{Kind: "full", Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range list {
		if s.Trigger == trigger {
			return &s
		}
	}
	return nil
}

// flowing waits for a health snapshot captured from now on to be stored,
// and returns the first.
func (w *watch) flowing(what string) store.Snapshot {
	w.t.Helper()
	since := time.Now()
	var got []store.Snapshot
	harness.WaitFor(w.t, what+": a fresh health snapshot", 90*time.Second, func() bool {
		got = w.health(since)
		return len(got) > 0
	})
	return got[len(got)-1]
}

// sample is one stored health snapshot with its agent probe.
type sample struct {
	store.Snapshot
	agent probe.AgentResult
}

func (s *sample) delivery() *probe.Delivery {
	if s.agent.Delivery == nil {
		return &probe.Delivery{}
	}
	return s.agent.Delivery
}

// newest returns the newest stored health snapshot and its agent probe.
func (w *watch) newest() *sample {
	w.t.Helper()
	list := w.health(time.Time{})
	if len(list) == 0 {
		w.t.Fatal("no health snapshot stored")
	}
	return w.read(list[0].ID)
}

func (w *watch) read(id int64) *sample {
	w.t.Helper()
	snap, err := w.st.Snapshot(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	s := &sample{Snapshot: *snap}
	for _, p := range snap.Probes {
		if p.Name == "agent" {
			if p.Error != "" {
				w.t.Fatalf("snapshot %d: agent probe: %s", snap.Seq, p.Error)
			}
			if err := json.Unmarshal(p.Data, &s.agent); err != nil {
				w.t.Fatalf("snapshot %d: agent probe: %v", snap.Seq, err)
			}
			return s
		}
	}
	w.t.Fatalf("snapshot %d has no agent probe", snap.Seq)
	return nil
}

// spoolFiles counts the records in the agent's spool.
func (w *watch) spoolFiles() int {
	m, _ := filepath.Glob(filepath.Join(w.spool, "*.rec"))
	return len(m)
}

// procFDs counts the agent process's open descriptors.
func (w *watch) procFDs() int {
	w.t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", w.pid))
	if err != nil {
		w.t.Fatal(err)
	}
	return len(fds)
}

// footprint is the agent's resource use at rest.
type footprint struct {
	goroutines, openFiles, procFDs int
	bootEpoch                      int64
	last                           *sample
}

func (f footprint) String() string {
	return fmt.Sprintf("goroutines %d, open_files %d, /proc fds %d", f.goroutines, f.openFiles, f.procFDs)
}

// steady samples the agent for 3 s and keeps the least of each figure: the
// agent probe's (from each health snapshot captured meanwhile) and the
// count of /proc/PID/fd.
func (w *watch) steady() footprint {
	w.t.Helper()
	start := time.Now()
	f := footprint{procFDs: w.procFDs()}
	for time.Since(start) < 3*time.Second {
		f.procFDs = min(f.procFDs, w.procFDs())
		time.Sleep(50 * time.Millisecond)
	}
	harness.WaitFor(w.t, "health snapshots of the sampling window", 30*time.Second, func() bool {
		return len(w.health(start)) >= 3
	})
	f.goroutines, f.openFiles = 1<<30, 1<<30
	for _, s := range w.health(start) {
		smp := w.read(s.ID)
		f.goroutines = min(f.goroutines, smp.agent.Goroutines)
		f.openFiles = min(f.openFiles, smp.agent.OpenFiles)
		if f.last == nil {
			f.last, f.bootEpoch = smp, smp.BootEpoch
		}
	}
	return f
}

// phase is a stretch of the test under one fault.
type phase struct {
	name     string
	from, to time.Time
}

// cadence reports how many health snapshots of list were captured in the
// phase, the longest stretch of it without one, and the slow probes of the
// snapshot before that stretch (a health snapshot is taken only once the
// one before is delivered or spooled).
func (p phase) cadence(w *watch, list []store.Snapshot) string {
	var in []store.Snapshot
	for _, s := range list {
		if !s.CapturedAt.Before(p.from) && s.CapturedAt.Before(p.to) {
			in = append(in, s)
		}
	}
	slices.SortFunc(in, func(a, b store.Snapshot) int { return a.CapturedAt.Compare(b.CapturedAt) })
	gap, prev := time.Duration(0), p.from
	var before *store.Snapshot
	for i := 0; i <= len(in); i++ {
		next := p.to
		if i < len(in) {
			next = in[i].CapturedAt
		}
		if next.Sub(prev) > gap {
			gap = next.Sub(prev)
			before = nil
			if i > 0 {
				before = &in[i-1]
			}
		}
		prev = next
	}
	out := fmt.Sprintf("%s (%s): %d health snapshots captured, at most %s without one",
		p.name, p.to.Sub(p.from).Round(time.Second), len(in), gap.Round(time.Millisecond))
	if len(in) <= 5 {
		var each []string
		for _, s := range in {
			snap := w.read(s.ID)
			slowest := protocol.ProbeJSON{}
			for _, pr := range snap.Probes {
				if pr.DurationMS > slowest.DurationMS {
					slowest = pr
				}
			}
			each = append(each, fmt.Sprintf("seq %d at +%s (stored %s later; slowest probe %s %.0f ms)",
				snap.Seq, s.CapturedAt.Sub(p.from).Round(time.Millisecond),
				s.ReceivedAt.Sub(s.CapturedAt).Round(time.Millisecond), slowest.Name, slowest.DurationMS))
		}
		out += ": " + strings.Join(each, ", ")
	}
	if before != nil {
		snap := w.read(before.ID)
		var slow []string
		for _, pr := range snap.Probes {
			if pr.DurationMS > 1000 || pr.Error != "" {
				slow = append(slow, fmt.Sprintf("%s %.0f ms %s", pr.Name, pr.DurationMS, pr.Error))
			}
		}
		out += fmt.Sprintf("; seq %d before the gap stored %s after capture, slow probes: %v",
			snap.Seq, snap.ReceivedAt.Sub(snap.CapturedAt).Round(time.Millisecond), slow)
	}
	return out
}

// latency summarizes the time from capture to storage.
func latency(list []store.Snapshot) string {
	if len(list) == 0 {
		return "n/a"
	}
	var ds []time.Duration
	for _, s := range list {
		ds = append(ds, s.ReceivedAt.Sub(s.CapturedAt))
	}
	slices.Sort(ds)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %s, median %s, max %s (n=%d)", r(ds[0]), r(ds[len(ds)/2]), r(ds[len(ds)-1]), len(ds))
}

// gaps lists the seqs missing below the highest stored for the agent's
// boot epoch, and returns that highest.
func gaps(s *harness.Stored, agentID string, epoch int64) (missing []uint64, top uint64) {
	have := map[uint64]bool{}
	for k := range s.Keys {
		if k.Agent == agentID && k.BootEpoch == epoch {
			have[k.Seq] = true
			top = max(top, k.Seq)
		}
	}
	for seq := uint64(1); seq <= top; seq++ {
		if !have[seq] {
			missing = append(missing, seq)
		}
	}
	return missing, top
}

func bootEpochs(s *harness.Stored, agentID string) []int64 {
	var out []int64
	for k := range s.Keys {
		if k.Agent == agentID && !slices.Contains(out, k.BootEpoch) {
			out = append(out, k.BootEpoch)
		}
	}
	return out
}

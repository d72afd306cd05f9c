//go:build faults

package faults

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/e2e/netns"
)

// site is a collector in namespace C and an agent in A, for the tests of
// networks that block UDP, force a proxy or intercept TLS. How A reaches
// C is each test's own.
type site struct {
	t        *testing.T
	nsA, nsC *netns.NS
	col      *harness.Collector
	key      string // an L2 API key
	stateDir string
	config   string // the agent's agent.yaml
	agentID  string
	agent    *harness.Proc
}

// newSite starts a collector in nsC listening for agents on quic (UDP)
// and the same port on TCP, with sans added to its certificate, and
// writes an agent.yaml of lines for the agent.
func newSite(t *testing.T, nsA, nsC *netns.NS, quic string, sans []string, lines ...string) *site {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fault tests need root, for network namespaces")
	}
	s := &site{t: t, nsA: nsA, nsC: nsC, stateDir: filepath.Join(t.TempDir(), "agent")}
	var args []string
	for _, san := range sans {
		args = append(args, "--san", san)
	}
	s.col = &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: quic, HTTP: "127.0.0.1:7080", Netns: nsC.Name, Args: args}
	s.col.Start(t)
	s.key = strings.TrimSpace(strings.SplitN(harness.Run(t, filepath.Join(bin, "sonde-collector"), "apikey", "create", "e2e",
		"--role", "l2", "--data", s.col.Data), "\n", 2)[0])
	s.config = filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(s.config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// enroll enrolls the agent with addr in nsA, and returns what it printed
// and how long it took; on failure, the error's text.
func (s *site) enroll(addr string) (string, time.Duration, error) {
	s.t.Helper()
	token, pin := s.col.Token(s.t, 1)
	start := time.Now()
	out, err := s.nsA.Output(filepath.Join(bin, "sonde-agent"), "enroll", "--collector", addr, "--token", token,
		"--ca-pin", pin, "--state", s.stateDir, "--config", s.config, "--force")
	took := time.Since(start)
	if err == nil {
		m := regexp.MustCompile(`enrolled as agent (\S+)`).FindStringSubmatch(out)
		if m == nil {
			s.t.Fatalf("enroll printed %q", out)
		}
		s.agentID = m[1]
	}
	return out, took, err
}

// start runs the agent in nsA, taking a health snapshot every second.
func (s *site) start() time.Time {
	s.t.Helper()
	os.Remove(filepath.Join(state.PublicDir(s.stateDir), status.File))
	began := time.Now()
	s.agent = harness.Start(s.t, s.nsA.Name, filepath.Join(bin, "sonde-agent"), "run", "--state", s.stateDir,
		"--config", s.config, "--health-interval", "1s")
	return began
}

// stop ends the agent.
func (s *site) stop() {
	s.t.Helper()
	if !s.agent.Stop(10 * time.Second) {
		s.t.Fatalf("the agent did not stop within 10 s:\n%s", s.agent.Output())
	}
}

// status is what the agent's status file says now; nil before it wrote
// one.
func (s *site) status() *status.Status {
	st, err := status.Read(state.PublicDir(s.stateDir))
	if err != nil {
		return nil
	}
	return st
}

// waitStatus waits until the status file satisfies ok, and returns it.
func (s *site) waitStatus(what string, patience time.Duration, ok func(*status.Status) bool) *status.Status {
	s.t.Helper()
	var st *status.Status
	harness.WaitFor(s.t, what, patience, func() bool {
		if s.agent.Exited() {
			s.t.Fatalf("the agent exited:\n%s", s.agent.Output())
		}
		st = s.status()
		return st != nil && ok(st)
	})
	return st
}

// connectedOver is a waitStatus condition: connected over transport.
func connectedOver(transport string) func(*status.Status) bool {
	return func(st *status.Status) bool { return st.Connected && st.Transport == transport }
}

// sonde runs the L2 CLI in nsC, against the collector's API.
func (s *site) sonde(args ...string) string {
	s.t.Helper()
	return s.nsC.Run(s.t, "env", append([]string{"SONDE_URL=http://127.0.0.1:7080", "SONDE_TOKEN=" + s.key,
		filepath.Join(bin, "sonde")}, args...)...)
}

// agentSays runs a public sonde-agent command in nsA (status, receipts).
func (s *site) agentSays(args ...string) string {
	s.t.Helper()
	out, _ := s.nsA.Command(filepath.Join(bin, "sonde-agent"), append(args, "--state", s.stateDir)...).CombinedOutput()
	return string(out)
}

// spooled counts the records in the agent's spool.
func (s *site) spooled() int {
	m, _ := filepath.Glob(filepath.Join(s.stateDir, "spool", "*.rec"))
	return len(m)
}

// TestUDPBlocked: nftables drops every UDP datagram between the agent and
// the collector, silently. The agent enrolls over TCP (the CA checked
// against its pin in the handshake), connects over TCP within 3 s of
// starting, answers an on-demand snapshot, keeps its health snapshots in
// its spool while the collector is down and drains it when it is back,
// each stored once. When UDP is allowed again, it is back on QUIC within
// its quic_retry period.
func TestUDPBlocked(t *testing.T) {
	nsA, nsC := netns.New(t, "udpblk-a"), netns.New(t, "udpblk-c")
	netns.Veth(t, nsA, "va", "10.202.1.2/24", nsC, "vc", "10.202.1.1/24")
	const addr = "10.202.1.1:7443"
	s := newSite(t, nsA, nsC, addr, []string{"10.202.1.1"}, "quic_retry: 10s")
	if err := nsA.Loss(100); err != nil {
		t.Fatal(err)
	}

	out, took, err := s.enroll(addr)
	if err != nil {
		t.Fatalf("enrolling with UDP dropped: %v", err)
	}
	t.Logf("enrolled in %s with UDP dropped: %s", took.Round(time.Millisecond), strings.TrimSpace(out))

	began := s.start()
	s.waitStatus("the agent to connect over TCP", 10*time.Second, connectedOver("TCP"))
	connected := time.Since(began)
	if connected > 3*time.Second {
		t.Errorf("connected over TCP %s after starting, want within 3 s", connected.Round(time.Millisecond))
	}
	t.Logf("connected over TCP %s after starting (status file polled every 50 ms)", connected.Round(time.Millisecond))
	if says := s.agentSays("status"); !strings.Contains(says, "over TCP") || !strings.Contains(says, "UDP is blocked on this network") {
		t.Errorf("sonde-agent status says:\n%s", says)
	}
	if agents := s.sonde("agents"); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s.agentID) + `\b.*\bTCP\b`).MatchString(agents) {
		t.Errorf("sonde agents does not show the agent on TCP:\n%s", agents)
	}

	// On demand, through the API.
	start := time.Now()
	snap := s.sonde("snapshot", s.agentID, "--probes", "system,memory", "--json")
	if !strings.Contains(snap, `"memory"`) {
		t.Fatalf("sonde snapshot printed %.300q", snap)
	}
	t.Logf("on-demand snapshot over TCP: %s from the CLI", time.Since(start).Round(time.Millisecond))

	// The collector goes away for 8 s: health snapshots go to the spool,
	// and drain over TCP when it is back.
	s.col.Proc.Kill()
	time.Sleep(8 * time.Second)
	held := s.spooled()
	if held < 4 {
		t.Errorf("%d snapshots in the spool after 8 s without the collector, want one a second", held)
	}
	s.col.Start(t)
	restarted := time.Now()
	s.waitStatus("the agent to reconnect over TCP", 30*time.Second, connectedOver("TCP"))
	harness.WaitFor(t, "the spool to drain", 60*time.Second, func() bool { return s.spooled() == 0 })
	t.Logf("collector down 8 s: %d snapshots spooled; reconnected and drained %s after the restart",
		held, time.Since(restarted).Round(time.Millisecond))
	checkStoredOnce(t, s.col, s.agentID)

	// UDP again: back on QUIC within quic_retry (10 s), and a margin for
	// the try itself.
	if err := nsA.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	s.waitStatus("the agent to move back to QUIC", 25*time.Second, connectedOver("QUIC"))
	t.Logf("back on QUIC %s after UDP was allowed again (quic_retry 10s)", time.Since(healed).Round(time.Millisecond))
	start = time.Now()
	s.sonde("snapshot", s.agentID, "--probes", "memory", "--json")
	t.Logf("on-demand snapshot over QUIC: %s from the CLI", time.Since(start).Round(time.Millisecond))
	s.stop()
	checkStoredOnce(t, s.col, s.agentID)
}

// checkStoredOnce waits until every snapshot the agent took in its boot
// is stored, and checks that none is stored twice.
func checkStoredOnce(t *testing.T, col *harness.Collector, agentID string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		stored, err := harness.ReadStore(t.Context(), col.DB())
		if err != nil {
			t.Fatalf("reading the store: %v", err)
		}
		if d := stored.Duplicates(); len(d) > 0 {
			t.Fatalf("stored more than once: %v", d)
		}
		var missing []uint64
		var top uint64
		for _, epoch := range bootEpochs(stored, agentID) {
			m, tp := gaps(stored, agentID, epoch)
			missing, top = append(missing, m...), max(top, tp)
		}
		if len(missing) == 0 {
			t.Logf("seqs 1..%d of the agent each stored once", top)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("seqs missing: %v", missing)
		}
	}
}

// TestHostFirewallRejectsUDP: the agent's own firewall refuses outgoing
// UDP, so sendmsg fails with EPERM (nftables drops it in the output hook,
// as host firewalls do). QUIC fails at once and the agent connects over
// TCP, once: no churn of reconnects while the firewall stays.
func TestHostFirewallRejectsUDP(t *testing.T) {
	nsA, nsC := netns.New(t, "hostfw-a"), netns.New(t, "hostfw-c")
	netns.Veth(t, nsA, "va", "10.205.1.2/24", nsC, "vc", "10.205.1.1/24")
	const addr = "10.205.1.1:7443"
	s := newSite(t, nsA, nsC, addr, []string{"10.205.1.1"})
	nsA.Run(t, "nft", "add table inet hostfw; add chain inet hostfw out { type filter hook output priority 0; }; add rule inet hostfw out meta l4proto udp drop")
	if _, _, err := s.enroll(addr); err != nil {
		t.Fatalf("enrolling behind the host firewall: %v", err)
	}
	began := s.start()
	st := s.waitStatus("the agent to connect over TCP", 10*time.Second, connectedOver("TCP"))
	t.Logf("connected over TCP %s after starting", time.Since(began).Round(time.Millisecond))
	time.Sleep(20 * time.Second)
	now := s.status()
	sessions := strings.Count(s.agent.Output(), "connected to collector")
	if now == nil || !now.Connected || !now.Since.Equal(st.Since) || sessions != 1 {
		t.Errorf("after 20 s: status %+v (connected since %s at first), %d sessions in the log; want one, unbroken", now, st.Since, sessions)
	}
	t.Logf("20 s later: still connected over TCP since %s, %d session", now.Since.Format(time.TimeOnly), sessions)
	s.stop()
}

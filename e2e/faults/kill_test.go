//go:build faults

package faults

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestKillCollector kills the collector with SIGKILL at 20 and more random
// moments while 20 agents push 10,000 snapshots, restarting it each time.
// After the last restart and the agents' replay, every snapshot taken is
// stored exactly once and the database passes SQLite's integrity check.
// It runs over QUIC, then with UDP to the collector dropped, so over TCP.
func TestKillCollector(t *testing.T) {
	t.Run("QUIC", func(t *testing.T) { killCollector(t, "quic") })
	t.Run("TCP", func(t *testing.T) { killCollector(t, "tcp") })
}

func killCollector(t *testing.T, transport string) {
	const (
		agents   = 20
		total    = 10_000
		minKills = 20
		interval = 40 * time.Millisecond // 20 agents: about 500 snapshots a second
	)
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	if transport == "tcp" {
		_, port, _ := net.SplitHostPort(col.QUIC)
		dropUDP(t, port)
	}

	f := newFleet(t, col, agents, "kill", 256<<20)
	f.start(interval)
	defer f.stop()
	waitConnected(t, col, transport, agents)

	kills := 0
	for kills < minKills || f.taken() < total {
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		col.Proc.Kill()
		kills++
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		col.Start(t)
		if kills > 5*minKills {
			t.Fatalf("only %d snapshots taken after %d kills", f.taken(), kills)
		}
	}
	f.stop()
	t.Logf("%d kills while %d agents took %d snapshots", kills, agents, f.taken())
	f.replay()
	st := f.check(col)
	t.Logf("stored %d snapshots of the first boots (%d rows in all), each once; integrity_check ok", f.taken(), st.Rows)
}

// dropUDP drops, silently, the UDP datagrams to port on this namespace's
// loopback, where the collector and the in-process fleet talk: a network
// that blocks UDP to the collector, and nothing else. The table is the
// test's own, removed when it ends.
func dropUDP(t *testing.T, port string) {
	t.Helper()
	table := "sonde_test_udp_" + port
	rules := fmt.Sprintf("table netdev %s {\n\tchain in {\n\t\ttype filter hook ingress device \"lo\" priority 0; policy accept;\n\t\tudp dport %s drop\n\t}\n}\n", table, port)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("nft", "delete", "table", "netdev", table).CombinedOutput(); err != nil {
			t.Errorf("removing the nftables table %s: %v: %s", table, err, out)
		}
	})
}

// waitConnected waits until the collector's /metrics counts n agents
// connected over transport ("quic" or "tcp") and none over the other.
func waitConnected(t *testing.T, col *harness.Collector, transport string, n int) {
	t.Helper()
	want := fmt.Sprintf("sonde_agents_connected{transport=%q} %d\n", transport, n)
	harness.WaitFor(t, "every agent connected over "+transport, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + col.HTTP + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want)
	})
	t.Logf("%d agents connected over %s", n, strings.ToUpper(transport))
}

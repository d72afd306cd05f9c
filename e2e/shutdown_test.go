package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/e2e/harness"
)

// TestCollectorSIGTERM stops the collector with SIGTERM while several real
// agents deliver health snapshots, the second time while they replay what
// they kept while it was down. Each time the collector logs its orderly
// shutdown and exits 0, and every snapshot an agent's receipts say was
// delivered is in the database it left. After a restart the agents
// deliver what they kept; in the end every snapshot each agent took is
// stored exactly once or still in its spool, and the agents, stopped with
// SIGTERM, exit 0.
func TestCollectorSIGTERM(t *testing.T) {
	const agents = 4
	agentBin := filepath.Join(bin, "sonde-agent")
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, agents)
	var fleet []*shutdownAgent
	enrolled := regexp.MustCompile(`enrolled as agent (\S+)`)
	for range agents {
		dir := t.TempDir()
		out := harness.Run(t, agentBin, "enroll", "--collector", col.QUIC, "--token", token, "--ca-pin", pin, "--state", dir)
		m := enrolled.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("enroll printed %q", out)
		}
		fleet = append(fleet, &shutdownAgent{id: m[1], state: dir,
			proc: harness.Start(t, "", agentBin, "run", "--state", dir, "--health-interval", "100ms")})
	}
	readStore := func() *harness.Stored {
		t.Helper()
		st, err := harness.ReadStore(t.Context(), col.DB())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	harness.WaitFor(t, "every agent to deliver snapshots", 60*time.Second, func() bool {
		st := readStore()
		for _, a := range fleet {
			if st.Count(a.id) < 5 {
				return false
			}
		}
		return true
	})

	// 1. SIGTERM while the agents deliver as they take.
	stopCollector(t, col, fleet)
	// While it is down, the agents keep what they take.
	time.Sleep(2 * time.Second)

	// 2. SIGTERM while they replay it: every agent has a backlog to send.
	before := readStore().Rows
	col.Start(t)
	harness.WaitFor(t, "the replay to begin", 60*time.Second, func() bool { return readStore().Rows > before })
	stopCollector(t, col, fleet)

	// What the agents kept, they deliver once the collector is back.
	kept := map[string][]harness.Key{}
	for _, a := range fleet {
		kept[a.id] = spooled(t, a.id, filepath.Join(a.state, "spool"))
	}
	col.Start(t)
	harness.WaitFor(t, "the agents to deliver what they kept", 60*time.Second, func() bool {
		st := readStore()
		for _, keys := range kept {
			for _, k := range keys {
				if st.Keys[k] == 0 {
					return false
				}
			}
		}
		return true
	})

	// The agents stop cleanly; every snapshot each took is stored once, or
	// still in its spool.
	for _, a := range fleet {
		a.proc.Terminate()
	}
	for _, a := range fleet {
		if err := a.proc.Wait(t, 20*time.Second); err != nil {
			t.Errorf("agent %s's exit after SIGTERM: %v, want status 0", a.id, err)
		}
	}
	st := readStore()
	if dups := st.Duplicates(); len(dups) > 0 {
		t.Errorf("%d snapshots stored more than once, e.g. %+v", len(dups), dups[0])
	}
	for _, a := range fleet {
		have := map[uint64]bool{}
		for k := range st.Keys {
			if k.Agent == a.id {
				have[k.Seq] = true
			}
		}
		for _, k := range spooled(t, a.id, filepath.Join(a.state, "spool")) {
			have[k.Seq] = true
		}
		var last uint64
		for seq := range have {
			last = max(last, seq)
		}
		for seq := uint64(1); seq <= last; seq++ {
			if !have[seq] {
				t.Errorf("agent %s: snapshot %d of %d neither stored nor spooled", a.id, seq, last)
			}
		}
		t.Logf("agent %s: %d snapshots taken, each stored or spooled; %d kept over the last restart", a.id, last, len(kept[a.id]))
	}
}

// shutdownAgent is a sonde-agent process of TestCollectorSIGTERM.
type shutdownAgent struct {
	id, state string
	proc      *harness.Proc
}

// stopCollector sends the collector SIGTERM and checks that it exits 0
// after logging its shutdown in order, and that every snapshot the
// agents' receipts (`sonde-agent receipts`) say was delivered is in the
// database it left.
func stopCollector(t *testing.T, col *harness.Collector, fleet []*shutdownAgent) {
	t.Helper()
	col.Proc.Terminate()
	if err := col.Proc.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("the collector's exit after SIGTERM: %v, want status 0", err)
	}
	out := col.Proc.Output()
	checkLogOrder(t, out, "collector stopping", "ingest stopped accepting; draining", "ingest drained",
		"background loops stopped", "store closed", "collector stopped")
	checkLogOrder(t, out, "collector stopping", "HTTP server stopped", "background loops stopped")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `msg="ingest stopped accepting`) || strings.Contains(l, `msg="ingest drain`) {
			t.Logf("collector: %s", l[strings.Index(l, "msg="):])
		}
	}
	left, err := harness.ReadStore(t.Context(), col.DB())
	if err != nil {
		t.Fatal(err)
	}
	// The collector is down: a receipt written from now on is for an ack
	// it sent before it exited. Give those a moment.
	time.Sleep(time.Second)
	delivered := 0
	for _, a := range fleet {
		var list []receipt.Receipt
		raw := harness.Run(t, filepath.Join(col.Bin, "sonde-agent"), "receipts", "--state", a.state, "--json", "--limit", "1000000")
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			t.Fatal(err)
		}
		stored := map[int64]int{} // rows by capture time, in ms
		for k, at := range left.Captured {
			if k.Agent == a.id {
				stored[at.UnixMilli()]++
			}
		}
		for _, r := range list {
			if !r.Delivered {
				continue
			}
			delivered++
			if stored[r.At.UnixMilli()]--; stored[r.At.UnixMilli()] < 0 {
				t.Errorf("agent %s: the snapshot captured at %s is delivered by its receipts but not in the database",
					a.id, r.At.Format(time.RFC3339Nano))
			}
		}
	}
	t.Logf("after SIGTERM: %d snapshots stored, %d delivered by the agents' receipts", left.Rows, delivered)
	if delivered == 0 {
		t.Fatal("no receipt says delivered")
	}
}

// checkLogOrder fails the test unless each of msgs is logged (slog's text
// format) in out, in that order.
func checkLogOrder(t *testing.T, out string, msgs ...string) {
	t.Helper()
	prev, prevAt := "", -1
	for _, msg := range msgs {
		at := strings.Index(out, fmt.Sprintf("msg=%q", msg))
		if at < 0 {
			t.Errorf("the collector did not log %q", msg)
			continue
		}
		if at < prevAt {
			t.Errorf("the collector logged %q before %q", msg, prev)
		}
		prev, prevAt = msg, at
	}
}

// spooled lists the snapshots in an agent's spool by the names of their
// records (see package spool), without opening it: the agent may be
// writing it.
func spooled(t *testing.T, agent, dir string) []harness.Key {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []harness.Key
	for _, e := range entries {
		k := harness.Key{Agent: agent}
		var tag string
		if n, _ := fmt.Sscanf(e.Name(), "%020d-%020d-%1s", &k.BootEpoch, &k.Seq, &tag); n == 3 && strings.HasSuffix(e.Name(), ".rec") {
			keys = append(keys, k)
		}
	}
	return keys
}

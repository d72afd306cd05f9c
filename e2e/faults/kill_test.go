//go:build faults

package faults

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestKillCollector kills the collector with SIGKILL at 20 and more random
// moments while 20 agents push 10,000 snapshots, restarting it each time.
// After the last restart and the agents' replay, every snapshot taken is
// stored exactly once and the database passes SQLite's integrity check.
func TestKillCollector(t *testing.T) {
	const (
		agents   = 20
		total    = 10_000
		minKills = 20
		interval = 40 * time.Millisecond // 20 agents: about 500 snapshots a second
	)
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)

	f := newFleet(t, col, agents, "kill", 256<<20)
	f.start(interval)
	defer f.stop()

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

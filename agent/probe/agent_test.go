//go:build linux

package probe_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

func TestAgent(t *testing.T) {
	dir := filepath.Join("testdata", "agent", "linux")
	ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
	p := probe.NewTestAgent(func() int { return 17 })
	delivery := &probe.Delivery{Taken: 160, Connected: true, Reconnects: 2, Delivered: 140, Spooled: 9, Lost: 1, Throttled: 3,
		SpoolRecords: 4, SpoolBytes: 8123, SpoolCap: 100 << 20, Dropped: 5, Corrupt: 1}
	for _, tt := range []struct {
		golden string
		env    *probe.Env
	}{
		{"expected.json", &probe.Env{Delivery: func() *probe.Delivery { return delivery }}},
		{"expected-local.json", &probe.Env{}}, // a local snapshot: no collector, no delivery
	} {
		v, err := p.Collect(ctx, tt.env)
		if err != nil {
			t.Fatal(err)
		}
		probetest.Compare(t, v, filepath.Join(dir, tt.golden))
	}
}

// TestAgentHost checks the probe on this very process: it must find its own
// open files and resident memory.
func TestAgentHost(t *testing.T) {
	p, _ := probe.New("agent")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(probe.AgentResult)
	if r.Goroutines < 1 || r.OpenFiles < 3 || r.RSSBytes < 1<<20 {
		t.Errorf("agent probe on this process: %+v", r)
	}
}

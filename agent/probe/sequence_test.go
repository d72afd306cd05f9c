package probe_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// goldenSequence runs a fresh probe over dir/root, then over dir/root-next
// when the case has one (a later state of the same host, for probes that
// compute rates between calls), and compares the last result with
// dir/expected.json. It does the same with Env.Health against
// dir/expected-health.json.
func goldenSequence(t *testing.T, newProbe func() probe.Probe, dir string) {
	t.Helper()
	goldenSequenceEnv(t, newProbe, dir, probe.Env{})
}

// goldenSequenceEnv is goldenSequence with the probe's Env made from base
// (a request's process names, say).
func goldenSequenceEnv(t *testing.T, newProbe func() probe.Probe, dir string, base probe.Env) {
	t.Helper()
	roots := []string{filepath.Join(dir, "root")}
	if _, err := os.Stat(filepath.Join(dir, "root-next")); err == nil {
		roots = append(roots, filepath.Join(dir, "root-next"))
	}
	for _, health := range []bool{false, true} {
		p := newProbe()
		var v any
		for _, root := range roots {
			var err error
			env := base
			env.Health = health
			v, err = p.Collect(probe.WithRoot(context.Background(), root), &env)
			if err != nil {
				t.Fatalf("%s over %s (health %v): %v", p.Name(), root, health, err)
			}
		}
		golden := "expected.json"
		if health {
			golden = "expected-health.json"
		}
		probetest.Compare(t, v, filepath.Join(dir, golden))
	}
}

// cases lists the case folders of a probe's testdata.
func cases(t *testing.T, probeName string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", probeName, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases under testdata/%s", probeName)
	}
	return dirs
}

package probe_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// goldenOrError runs p over dir/root with env and compares its result with
// dir/expected.json, or, when the case has dir/expected-error.txt, its
// error with that file's first line.
func goldenOrError(t *testing.T, p probe.Probe, env *probe.Env, dir string) {
	t.Helper()
	ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
	v, err := p.Collect(ctx, env)
	want, rerr := os.ReadFile(filepath.Join(dir, "expected-error.txt"))
	if rerr != nil {
		if err != nil {
			t.Fatalf("%s over %s: %v", p.Name(), dir, err)
		}
		probetest.Compare(t, v, filepath.Join(dir, "expected.json"))
		return
	}
	if err == nil || err.Error() != strings.TrimSpace(string(want)) {
		t.Errorf("%s over %s: error %v, want %s", p.Name(), dir, err, want)
	}
}

// recorded reads the tool outputs recorded in a case folder, keyed by
// command line.
func recorded(t *testing.T, files map[string]string) *probe.Tools {
	t.Helper()
	tools := &probe.Tools{Outputs: map[string][]byte{}}
	for cmd, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tools.Outputs[cmd] = b
	}
	return tools
}

// interfacesJSON fakes the kernel's interface list with a JSON file, for
// tests and benchmarks.
func interfacesJSON(tb testing.TB, path string) func() ([]probe.NetworkInterface, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return func() ([]probe.NetworkInterface, error) {
		var ifs []probe.NetworkInterface
		if err := json.Unmarshal(b, &ifs); err != nil {
			return nil, err
		}
		return ifs, nil
	}
}

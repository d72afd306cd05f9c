// Package probetest runs a probe against a fixture host and compares its
// result with golden JSON. Run `go test ./agent/probe -update` to rewrite the
// golden files after a deliberate change.
package probetest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Golden runs p over the fixture host in dir (testdata/<probe>/<case>, whose
// root/ folder holds proc/, sys/, etc/ ...) and compares its JSON with
// dir/expected.json.
func Golden(t *testing.T, p probe.Probe, env *probe.Env, dir string) {
	t.Helper()
	ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
	if env == nil {
		env = &probe.Env{}
	}
	v, err := p.Collect(ctx, env)
	if err != nil {
		t.Fatalf("%s over %s: %v", p.Name(), dir, err)
	}
	Compare(t, v, filepath.Join(dir, "expected.json"))
}

// Compare compares v, encoded as indented JSON, with the golden file.
func Compare(t *testing.T, v any, golden string) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s (run with -update after a deliberate change)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

package app

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// TestSnapshotConfig: `snapshot --config FILE` hands the file's targets
// to the reachability probe.
func TestSnapshotConfig(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("reachability: ["+ln.Addr().String()+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"snapshot", "--state", t.TempDir(), "--probes", "reachability", "--format", "json", "--config", cfg}
	if code := Main(t.Context(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc struct {
		Probes []struct {
			Name string          `json:"name"`
			Data json.RawMessage `json:"data"`
		} `json:"probes"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Probes) != 1 {
		t.Fatalf("%v: %s", err, out.String())
	}
	var r probe.ReachabilityResult
	if err := json.Unmarshal(doc.Probes[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Configured != 1 || len(r.Targets) != 1 || !r.Targets[0].OK {
		t.Errorf("reachability of the configured target: %s", doc.Probes[0].Data)
	}
}

// TestConfigBroken: a configuration with a typo stops run and snapshot at
// once, naming the file, and a named file that is missing too.
func TestConfigBroken(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("reachabilty: [a.example:443]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none.yaml")
	for _, args := range [][]string{
		{"snapshot", "--probes", "time", "--config", cfg},
		{"run", "--state", t.TempDir(), "--config", cfg},
		{"snapshot", "--probes", "time", "--config", missing},
	} {
		var out, errOut bytes.Buffer
		start := time.Now()
		code := Main(t.Context(), args, &out, &errOut)
		want := cfg
		if slices.Contains(args, missing) {
			want = missing
		}
		if code == 0 || !strings.Contains(errOut.String(), want) || time.Since(start) > 5*time.Second {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}

// TestServiceArgs: the service runs with the configuration named at
// install, by its absolute path.
func TestServiceArgs(t *testing.T) {
	f := runFlags{dir: "/var/lib/sonde-agent", health: time.Minute, spoolMax: 1 << 20, config: "agent.yaml"}
	args := f.serviceArgs()
	i := slices.Index(args, "--config")
	if i < 0 || !filepath.IsAbs(args[i+1]) || filepath.Base(args[i+1]) != "agent.yaml" {
		t.Errorf("service arguments %q", args)
	}
	f.config = ""
	if slices.Contains(f.serviceArgs(), "--config") {
		t.Errorf("service arguments without a configuration: %q", f.serviceArgs())
	}
}

// TestSnapshotProbeNamedTwice: `snapshot --probes time,time` runs the
// probe once, as a snapshot holds each probe once.
func TestSnapshotProbeNamedTwice(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"snapshot", "--state", t.TempDir(), "--probes", "time,time", "--format", "json"}
	if code := Main(t.Context(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc struct {
		Probes []struct {
			Name string `json:"name"`
		} `json:"probes"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(doc.Probes) != 1 || doc.Probes[0].Name != "time" {
		t.Errorf("probes %+v, want time once", doc.Probes)
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the collector's own driver, to read its database
)

// logsSecrets are written to the kernel log by TestLogsScrubbed.
var logsSecrets = []string{"Hunter2-Canary-77", "ghp_Q7w2E9r4T1y8U3i6O0p5A2s7D4f9G1h3J6k8"}

// TestLogsScrubbed is the acceptance test of the logs probe: a line with
// secrets written to the kernel log reaches the L2 engineer grouped and
// scrubbed, through the real CLI, collector and agent; and the secrets
// are nowhere: not in the agent's state (spool, receipts), the
// collector's data (database, WAL, stored bundles), a bundle built for a
// ticket, or a snapshot taken locally.
func TestLogsScrubbed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel log is Linux's")
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestLogsScrubbed needs root, to write to /dev/kmsg (run the tests as make test does: as root)")
	}
	ident := fmt.Sprintf("sonde-canary-%d", time.Now().UnixNano())
	kmsg, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(kmsg, "<3>%s: login failed password=%s token=%s\n", ident, logsSecrets[0], logsSecrets[1])
	kmsg.Close()
	if err != nil {
		t.Fatalf("writing to /dev/kmsg: %v", err)
	}

	s := startSonde(t)
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }
	var snap snapshotView
	out := sonde("snapshot", s.host, "--probes", "logs", "--json")
	if err := json.Unmarshal([]byte(out), &snap); err != nil || len(snap.Probes) != 1 {
		t.Fatalf("sonde snapshot --probes logs: %v\n%s", err, out)
	}
	checkLogsProbe(t, "the snapshot", []byte(out), ident)

	sonde("ticket", "open", "--ref", "INC-LOGS", "--title", "it keeps crashing", "--agent", s.host)
	bundle := filepath.Join(t.TempDir(), "inc-logs.zip")
	sonde("bundle", s.host, "--ticket", "INC-LOGS", "-o", bundle)
	checkLogsProbe(t, "the bundle's snapshot", []byte(zipFile(t, bundle, "snapshot.json")), ident)

	local := filepath.Join(t.TempDir(), "local.json")
	mustRun(t, nil, "sonde-agent", "snapshot", "--probes", "logs", "--format", "json", "-o", local)
	b, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	checkLogsProbe(t, "a local snapshot", b, ident)

	scan := &leakScan{t: t, secrets: logsSecrets}
	for _, root := range []string{s.state, s.state + "-public", s.data, bundle, local} {
		scan.tree(root)
	}
	if scan.files < 5 {
		t.Errorf("checked only %d files for the secrets", scan.files)
	}
}

// checkLogsProbe finds, in a snapshot document, the logs probe's group of
// the planted line, scrubbed, and the count of what was scrubbed.
func checkLogsProbe(t *testing.T, what string, doc []byte, ident string) {
	t.Helper()
	var d struct {
		Probes []struct {
			Name     string `json:"name"`
			Error    string `json:"error"`
			Scrubbed []struct {
				Rule  string `json:"rule"`
				Count int    `json:"count"`
			} `json:"scrubbed"`
			Data struct {
				Sources []struct {
					Name, Status string
				} `json:"sources"`
				Groups []struct {
					Log, Source, Signature, Example, Level string
				} `json:"groups"`
			} `json:"data"`
		} `json:"probes"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, p := range d.Probes {
		if p.Name != "logs" {
			continue
		}
		scrubbed := map[string]int{}
		for _, s := range p.Scrubbed {
			scrubbed[s.Rule] += s.Count
		}
		if scrubbed["config-secret"] == 0 || scrubbed["github-token"] == 0 {
			t.Errorf("%s: the logs probe counts as scrubbed %v", what, scrubbed)
		}
		for _, g := range p.Data.Groups {
			if g.Log == "kmsg" && g.Source == ident {
				if g.Example != ident+": login failed password=[REDACTED:config-secret] token=[REDACTED:github-token]" || g.Level != "error" {
					t.Errorf("%s: the planted line's group: %+v", what, g)
				}
				return
			}
		}
		t.Fatalf("%s: no group of %s in the logs probe (error %q, sources %+v)", what, ident, p.Error, p.Data.Sources)
	}
	t.Fatalf("%s has no logs probe", what)
}

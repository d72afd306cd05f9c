//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/collector/store"
)

// canarySecrets are what the canary process carries in its arguments; not
// one may leave the machine it runs on.
var canarySecrets = []string{
	"Hunter2-Canary-91",
	"S3cr3t-Canary",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ",
	"eyJzdWIiOiJjYW5hcnkifQ", // the token's payload
	"c2lnbmF0dXJlLWNhbmFyeQ", // and its signature, each on its own
	"Tok3n-Canary-5150",
}

// canaryMark is the canary's command line as the agent scrubs it.
const canaryMark = "sonde-canary-proc --password=[REDACTED:"

// canaryArgs are the canary's arguments: a password flag, credentials in
// a URL, an Authorization header with a bearer token, a token flag and its
// value.
var canaryArgs = []string{
	"--password=Hunter2-Canary-91",
	"https://bob:S3cr3t-Canary@example.org/x",
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ",
	"--token", "Tok3n-Canary-5150",
}

// canarySource is a stand-in for a runaway process whose command line
// carries secrets: it ignores its arguments, burns two CPUs between
// SIGUSR1 and SIGUSR2, and exits after ten minutes at the latest.
const canarySource = `package main

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var spin atomic.Bool
	for range 2 {
		go func() {
			for {
				for spin.Load() {
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	end := time.After(10 * time.Minute)
	for {
		select {
		case s := <-c:
			spin.Store(s == syscall.SIGUSR1)
		case <-end:
			return
		}
	}
}
`

// TestSecretsStayOnTheMachine: L2 asks a real agent, through the real CLI
// and collector, for a process by name; the snapshot names it by its
// command line, scrubbed on the agent. None of the secrets in its
// arguments is found in the agent's state and spool (a snapshot taken and
// kept while the collector was down included), in the collector's data
// directory (database and WAL read through SQLite with the stored probe
// results inflated, bundle files unzipped, every file's raw bytes), in
// the bundles built for a ticket (online, with the canary burning CPU,
// and offline from the stored snapshot that names it), nor in the
// programs' logs.
func TestSecretsStayOnTheMachine(t *testing.T) {
	canaryPath := buildCanary(t)
	s := startSonde(t)
	canary := exec.Command(canaryPath, canaryArgs...)
	canary.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := canary.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { canary.Process.Kill(); canary.Wait() })
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }
	scan := &leakScan{t: t, secrets: canarySecrets, mark: canaryMark}

	// 1. Asked for by name, the canary is identified by its scrubbed
	// command line, and the scrubs are counted.
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(canaryPath) + ` --password=\[REDACTED:[a-z0-9-]+\] https://bob:\[REDACTED:[a-z0-9-]+\]@example\.org/x "Authorization: Bearer \[REDACTED:[a-z0-9-]+\]" --token \[REDACTED:[a-z0-9-]+\]$`)
	cmdline, scrubs := namedCanary(t, scan, sonde("snapshot", s.host, "--process", "sonde-canary-proc", "--json"), canary.Process.Pid)
	if !want.MatchString(cmdline) {
		t.Errorf("the canary's command line is %q, want it to match %s", cmdline, want)
	}
	if scrubs < 4 {
		t.Errorf("the processes probe counts %d scrubs, want at least 4", scrubs)
	}
	if out := sonde("snapshot", s.host, "--probes", "cpu", "--process", "sonde-canary-proc,no-such-process"); !strings.Contains(out, "sonde-canary-proc --password=[REDACTED:") || !strings.Contains(out, "no-such-process") {
		t.Errorf("sonde snapshot --process, as text:\n%s", out)
	}

	// 2. The canary runs away; a bundle is pulled for a ticket.
	canary.Process.Signal(syscall.SIGUSR1)
	time.Sleep(time.Second)
	sonde("ticket", "open", "--ref", "SEC-1", "--title", "it is slow", "--agent", s.host)
	online := filepath.Join(t.TempDir(), "online.zip")
	sonde("bundle", s.host, "--ticket", "SEC-1", "-o", online)
	if found := scan.tree(online); !found {
		t.Logf("the online bundle's top lists do not show the canary (a busy machine): checked for secrets all the same")
	}

	// 3. The collector goes away: the agent takes a full snapshot of the
	// fault and keeps it in its spool, with the canary still burning.
	s.collector.cmd.Process.Signal(syscall.SIGTERM)
	s.collector.cmd.Wait()
	spoolDir := filepath.Join(s.state, "spool")
	waitFor(t, "a fault snapshot in the agent's spool", 20*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(spoolDir, "*-f.rec"))
		return len(m) > 0
	})
	noSecretsInSpool(t, scan, spoolDir)
	scan.tree(s.state)
	canary.Process.Signal(syscall.SIGUSR2)

	// 4. Back online, the agent delivers what it kept; L2 asks for the
	// canary again, then the machine goes offline, and the ticket's
	// bundle is built from that stored snapshot, which names the canary.
	s.startCollector(t)
	waitFor(t, "the spool to be delivered", 30*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(spoolDir, "*.rec"))
		return len(m) == 0
	})
	namedCanary(t, scan, sonde("snapshot", s.host, "--process", "sonde-canary-proc", "--json"), canary.Process.Pid)
	s.agent.cmd.Process.Signal(syscall.SIGTERM)
	s.agent.cmd.Wait()
	waitFor(t, "the agent to be offline", 15*time.Second, func() bool {
		var agents []agentView
		api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
		return len(agents) == 1 && !agents[0].Online
	})
	offline := filepath.Join(t.TempDir(), "offline.zip")
	sonde("bundle", s.host, "--ticket", "SEC-1", "-o", offline)
	if !scan.tree(offline) {
		t.Error("the bundle built from the stored snapshot does not name the canary")
	}

	// 5. Nothing the collector or the agent kept or logged holds a secret.
	if !scan.database(filepath.Join(s.data, "sonde.db")) {
		t.Error("the collector's database does not name the canary: the check read nothing")
	}
	scan.tree(s.data)
	scan.tree(s.state)
	scan.bytes("the agent's log", []byte(s.agent.Output()))
	scan.bytes("the collector's log", []byte(s.collector.Output()))
}

// buildCanary compiles canarySource as sonde-canary-proc: a name longer
// than the 15 bytes Linux keeps of a process name.
func buildCanary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(canarySource), 0o600); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sonde-canary-proc")
	cmd := exec.Command("go", "build", "-o", exe, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the canary: %v\n%s", err, out)
	}
	return exe
}

// namedCanary returns the command line of process pid as a snapshot
// (sonde snapshot --json) lists it under the name asked for, and what the
// processes probe scrubbed.
func namedCanary(t *testing.T, scan *leakScan, out string, pid int) (cmdline string, scrubs int) {
	t.Helper()
	var snap store.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("sonde snapshot --json: %v\n%s", err, out)
	}
	scan.bytes("the snapshot", []byte(out))
	for _, p := range snap.Probes {
		if p.Name != "processes" {
			continue
		}
		var d struct {
			Named []struct {
				Name      string `json:"name"`
				Processes []struct {
					PID     int    `json:"pid"`
					Exe     string `json:"exe"`
					Cmdline string `json:"cmdline"`
				} `json:"processes"`
			} `json:"named"`
		}
		if err := json.Unmarshal(p.Data, &d); err != nil {
			t.Fatalf("processes data: %v\n%s", err, p.Data)
		}
		for _, sc := range p.Scrubbed {
			scrubs += int(sc.Count)
		}
		for _, n := range d.Named {
			for _, pr := range n.Processes {
				if n.Name == "sonde-canary-proc" && pr.PID == pid {
					if filepath.Base(pr.Exe) != "sonde-canary-proc" {
						t.Errorf("the canary's executable is %q", pr.Exe)
					}
					return pr.Cmdline, scrubs
				}
			}
		}
		t.Fatalf("the canary (PID %d) is not named in the processes probe's result:\n%s", pid, p.Data)
	}
	t.Fatalf("the snapshot has no processes probe:\n%s", out)
	return "", 0
}

// noSecretsInSpool decodes every record of a copy of the agent's spool
// (its snapshots are compressed frames), checks each probe's result and
// error, and requires a full snapshot with command lines among them.
func noSecretsInSpool(t *testing.T, scan *leakScan, dir string) {
	t.Helper()
	cp := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600)
		}
	}
	sp, err := spool.Open(cp, spool.DefaultCap, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var at spool.ID
	cmdlines := false
	for {
		snap, next, err := sp.After(at)
		if err != nil {
			break // spool.ErrEmpty
		}
		at = next
		for _, p := range snap.Probes {
			where := fmt.Sprintf("spooled snapshot %d (%s) probe %s", snap.Seq, snap.Trigger, p.Name)
			scan.bytes(where, p.Data)
			scan.bytes(where, []byte(p.Error))
			cmdlines = cmdlines || p.Name == "processes" && bytes.Contains(p.Data, []byte(`"cmdline"`))
			if bytes.Contains(p.Data, []byte(canaryMark)) {
				t.Logf("%s names the canary, scrubbed", where)
			}
		}
	}
	if !cmdlines {
		t.Error("no spooled snapshot lists processes with command lines: the check read nothing")
	}
}

//go:build linux

package probe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
)

// TestProcesses runs the processes probe over each case; a case with a
// processes file (one name a line) asks for those processes by name.
func TestProcesses(t *testing.T) {
	for _, dir := range cases(t, "processes") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequenceEnv(t, func() probe.Probe { return probe.NewTestProcesses(5, 4096) }, dir, probe.Env{Processes: askedIn(t, dir)})
		})
	}
}

// askedIn returns the process names a case asks for, if any.
func askedIn(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "processes"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestProcessesScrubbed: the fixtures' command lines carry secrets, each
// with "Canary" in it; none comes out of the probe, and the result counts
// what was scrubbed, by rule, whatever the goldens say.
func TestProcessesScrubbed(t *testing.T) {
	for _, dir := range cases(t, "processes") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			roots, _ := filepath.Glob(filepath.Join(dir, "root*"))
			p := probe.NewTestProcesses(5, 4096)
			for _, root := range roots {
				env := &probe.Env{Processes: askedIn(t, dir)}
				v, err := p.Collect(probe.WithRoot(context.Background(), root), env)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(v)
				if i := bytes.Index(b, []byte("Canary")); i >= 0 {
					t.Errorf("over %s, a secret left the probe: …%s…", root, b[max(0, i-60):min(len(b), i+30)])
				}
				if !bytes.Contains(b, []byte("[REDACTED:")) {
					t.Errorf("over %s, nothing was scrubbed: the case shows no command line with a secret", root)
				}
				if len(env.ScrubCounts()) == 0 {
					t.Errorf("over %s, the scrubs are not counted", root)
				}
			}
		})
	}
}

// TestProcessesDetailKept: what is read of a shown process beyond its stat
// is kept while it lives, but for its command line, read again at every
// call (a process may rewrite it), and scrubbed and counted at every call
// while it holds a secret. An exec (a new name) or a new process under the
// same PID (a new start time) is read afresh.
func TestProcessesDetailKept(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setProc := func(comm string, start int, cmdline, exe string) {
		t.Helper()
		write("proc/4242/stat", "4242 ("+comm+") R 1 4242 4242 0 -1 0 0 0 0 0 500 100 0 0 20 0 1 0 "+strconv.Itoa(start)+" 1000 300 0\n")
		write("proc/4242/cmdline", cmdline)
		os.Remove(filepath.Join(root, "proc/4242/exe"))
		if err := os.Symlink(exe, filepath.Join(root, "proc/4242/exe")); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/uptime", "100.00 100.00\n")
	write("proc/stat", "btime 1773302400\n")
	write("proc/meminfo", "MemTotal: 1000 kB\n")
	write("proc/4242/status", "Uid:\t0\t0\t0\t0\n")
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")

	p := probe.NewTestProcesses(5, 4096)
	collect := func() (probe.ProcessInfo, int) {
		t.Helper()
		env := &probe.Env{}
		v, err := p.Collect(probe.WithRoot(context.Background(), root), env)
		if err != nil {
			t.Fatal(err)
		}
		top := v.(*probe.ProcessesResult).TopCPU
		if len(top) != 1 {
			t.Fatalf("top list %+v", top)
		}
		n := 0
		for _, s := range env.ScrubCounts() {
			n += int(s.Count)
		}
		return top[0], n
	}
	check := func(step string, wantExe, wantCmd string, wantScrubs int) {
		t.Helper()
		got, scrubs := collect()
		if got.Exe != wantExe || got.Cmdline != wantCmd || scrubs != wantScrubs {
			t.Errorf("%s: exe %q, cmdline %q, %d scrubbed; want %q, %q, %d", step, got.Exe, got.Cmdline, scrubs, wantExe, wantCmd, wantScrubs)
		}
	}
	setProc("app", 5000, "app\x00--verbose\x00", "/usr/bin/app")
	check("first", "/usr/bin/app", "app --verbose", 0)
	setProc("app", 5000, "app\x00--password=Canary-1\x00", "/usr/bin/app")
	check("argv rewritten with a secret", "/usr/bin/app", "app --password=[REDACTED:cli-flag-secret]", 1)
	check("the same secret again", "/usr/bin/app", "app --password=[REDACTED:cli-flag-secret]", 1)
	setProc("app", 5000, "app\x00--verbose\x00", "/opt/other/app")
	check("same process, its link changed", "/usr/bin/app", "app --verbose", 0)
	setProc("other", 5000, "other\x00", "/opt/other/other")
	check("after an exec", "/opt/other/other", "other", 0)
	setProc("other", 6000, "other\x00-x\x00", "/usr/bin/other")
	check("a new process under the same PID", "/usr/bin/other", "other -x", 0)
}

// BenchmarkProbeProcessesCold measures the processes probe's first call,
// as after the agent starts or in a local `sonde-agent snapshot`: nothing
// kept from a previous call, every shown process read and its command
// line scrubbed. cpu-ns/op is process CPU time (all threads).
func BenchmarkProbeProcessesCold(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		p, _ := probe.New("processes")
		if _, err := p.Collect(ctx, &probe.Env{}); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := processCPU(); cpuOK {
		b.ReportMetric(float64((cpu1-cpu0)/time.Duration(b.N)), "cpu-ns/op")
	}
}

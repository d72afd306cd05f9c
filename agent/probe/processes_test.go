//go:build linux

package probe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	write := func(name, content string) { t.Helper(); writeUnder(t, root, name, content) }
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

// TestProcessesKernelThread: of a kernel thread (PF_KTHREAD in its stat's
// flags) nothing more is read: it is root's, with neither executable nor
// command line. Here it has no status file, which a user process read for
// its user would show as no user.
func TestProcessesKernelThread(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) { t.Helper(); writeUnder(t, root, name, content) }
	write("proc/uptime", "100.00 100.00\n")
	write("proc/stat", "btime 1773302400\n")
	write("proc/meminfo", "MemTotal: 1000 kB\n")
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
	write("proc/2/stat", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 7 0 0 0 20 0 1 0 22 0 0 18446744073709551615\n")
	write("proc/300/stat", "300 (daemon) S 1 300 300 0 -1 4194560 0 0 0 0 5 0 0 0 20 0 1 0 900 1000 300 0\n")
	v, err := probe.NewTestProcesses(5, 4096).Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	users := map[int32]string{}
	for _, pi := range v.(*probe.ProcessesResult).TopCPU {
		users[pi.PID] = pi.User
		if pi.Exe != "" || pi.Cmdline != "" {
			t.Errorf("%d: exe %q, cmdline %q", pi.PID, pi.Exe, pi.Cmdline)
		}
	}
	if users[2] != "root" || users[300] != "" || len(users) != 2 {
		t.Errorf("users %v, want the kernel thread's root and no user for the process without status", users)
	}
}

// TestProcessesDetailKeptOutOfList: what was read of a process shown once
// is kept while it lives, also while it is out of the top lists: back in
// the CPU list two calls later, its user and executable are not read
// again (here they could not be: its status and exe link are gone).
func TestProcessesDetailKeptOutOfList(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) { t.Helper(); writeUnder(t, root, name, content) }
	// A holds the most memory; B, then C, then B again the most CPU.
	proc := func(pid int, comm string, ticks, rss int) {
		write("proc/"+strconv.Itoa(pid)+"/stat", fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 %d 0 0 0 20 0 1 0 1000 1000 %d 0\n", pid, comm, pid, pid, ticks, rss))
	}
	write("proc/stat", "btime 1773302400\n")
	write("proc/meminfo", "MemTotal: 100000 kB\n")
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
	for _, pid := range []string{"10", "20", "30"} {
		write("proc/"+pid+"/status", "Uid:\t0\t0\t0\t0\n")
		write("proc/"+pid+"/cmdline", "p"+pid+"\x00")
		if err := os.Symlink("/usr/bin/p"+pid, filepath.Join(root, "proc", pid, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	p := probe.NewTestProcesses(1, 4096)
	call := func(uptime string, a, b, c int) probe.ProcessInfo {
		t.Helper()
		write("proc/uptime", uptime+" 0\n")
		proc(10, "a", a, 5000)
		proc(20, "b", b, 10)
		proc(30, "c", c, 10)
		v, err := p.Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
		if err != nil {
			t.Fatal(err)
		}
		r := v.(*probe.ProcessesResult)
		if len(r.TopCPU) != 1 || len(r.TopMemory) != 1 || r.TopMemory[0].PID != 10 {
			t.Fatalf("top lists %+v, %+v", r.TopCPU, r.TopMemory)
		}
		return r.TopCPU[0]
	}
	if b := call("101", 100, 5000, 1000); b.PID != 20 || b.User != "root" || b.Exe != "/usr/bin/p20" {
		t.Fatalf("first call: %+v, want process 20 read whole", b)
	}
	for _, f := range []string{"status", "exe"} {
		if err := os.Remove(filepath.Join(root, "proc", "20", f)); err != nil {
			t.Fatal(err)
		}
	}
	if c := call("102", 100, 5000, 1050); c.PID != 30 {
		t.Fatalf("second call: %+v, want process 30", c)
	}
	if b := call("103", 100, 5050, 1050); b.PID != 20 || b.User != "root" || b.Exe != "/usr/bin/p20" || b.Cmdline != "p20" {
		t.Errorf("third call: %+v, want process 20 as read at the first", b)
	}
}

// writeUnder writes content to name under root, making its folders.
func writeUnder(t *testing.T, root, name, content string) {
	t.Helper()
	path := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

//go:build linux

package probe_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

// procRoot is a fake host: write puts a file under its root.
type procRoot string

func (r procRoot) write(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(string(r), name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// proc writes process pid's stat with its CPU time in ticks (1/100 s)
// and its start in ticks since boot, and its command line.
func (r procRoot) proc(t *testing.T, pid int, comm string, ticks, start int, cmdline string) {
	t.Helper()
	p := "proc/" + strconv.Itoa(pid) + "/"
	r.write(t, p+"stat", strconv.Itoa(pid)+" ("+comm+") R 1 1 1 0 -1 0 0 0 0 0 "+strconv.Itoa(ticks)+" 0 0 0 20 0 1 0 "+strconv.Itoa(start)+" 1000 300 0\n")
	r.write(t, p+"cmdline", cmdline)
}

// healthTop runs the probe's health variant over root and returns its
// busiest process and what it scrubbed.
func healthTop(t *testing.T, p probe.Probe, root procRoot) (*probe.ProcessTop, int) {
	t.Helper()
	env := &probe.Env{Health: true}
	v, err := p.Collect(probe.WithRoot(context.Background(), string(root)), env)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range env.ScrubCounts() {
		n += int(s.Count)
	}
	return v.(*probe.ProcessHealth).Top, n
}

// TestProcessesHealthTop: a report job looping on one core of a machine
// is the health variant's busiest process, at 99% of one core over the
// minute between two calls, with its start date and its command line,
// scrubbed (at every call while it holds a secret) and cut to 256 bytes.
func TestProcessesHealthTop(t *testing.T) {
	root := procRoot(t.TempDir())
	root.write(t, "proc/stat", "btime 1773302400\nprocs_running 2\nprocs_blocked 0\n")
	root.write(t, "proc/loadavg", "1.00 1.00 1.00 2/90 4242\n")
	root.write(t, "proc/meminfo", "MemTotal: 1000 kB\n")
	long := strings.Repeat(" --include=/srv/reports/section", 20)
	cmd := "/usr/bin/reportgen\x00--job\x00nightly\x00--password=Canary-9secret\x00" + strings.ReplaceAll(long[1:], " ", "\x00") + "\x00"
	step := func(uptime string, job, shell int) {
		root.write(t, "proc/uptime", uptime+" 0\n")
		root.proc(t, 4242, "reportgen", job, 50000, cmd)
		root.proc(t, 77, "bash", shell, 100, "bash\x00")
	}

	p := probe.NewTestProcesses(5, 4096)
	step("1000.00", 40000, 500)
	first, scrubbed := healthTop(t, p, root)
	// The first call is over each process's life: 400 s of CPU in 500 s.
	if first == nil || first.PID != 4242 || first.CPUPercent != 80 || first.WindowSeconds != 500 || scrubbed == 0 {
		t.Fatalf("first call: %+v, %d scrubbed", first, scrubbed)
	}
	step("1060.00", 45940, 520)
	top, scrubbed := healthTop(t, p, root)
	if top == nil {
		t.Fatal("no busiest process")
	}
	want := probe.ProcessTop{PID: 4242, Name: "reportgen", CPUPercent: 99, WindowSeconds: 60, Started: 1773302400 + 500, CmdlineTruncated: true}
	got := *top
	got.Cmdline = ""
	if got != want {
		t.Errorf("busiest process %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(top.Cmdline, "/usr/bin/reportgen --job nightly --password=[REDACTED:") || len(top.Cmdline) > 256 || len(top.Cmdline) < 240 {
		t.Errorf("command line (%d bytes) %q", len(top.Cmdline), top.Cmdline)
	}
	if scrubbed == 0 || strings.Contains(top.Cmdline, "Canary") {
		t.Errorf("the secret in the command line is not scrubbed and counted at the second call: %d scrubbed, %q", scrubbed, top.Cmdline)
	}

	// The shell takes over: it is the busiest, read afresh, nothing to scrub.
	step("1120.00", 45941, 6500)
	top, scrubbed = healthTop(t, p, root)
	if top == nil || top.PID != 77 || top.Name != "bash" || top.CPUPercent != 99.67 || top.Cmdline != "bash" || top.CmdlineTruncated || scrubbed != 0 {
		t.Errorf("third call: %+v, %d scrubbed", top, scrubbed)
	}
}

// TestProcessesHealthMatchesFull: on each fixture machine, the health
// variant's busiest process is the full variant's first, at the same CPU
// use over the same window, with the same command line (cut shorter).
func TestProcessesHealthMatchesFull(t *testing.T) {
	for _, dir := range cases(t, "processes") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			roots, _ := filepath.Glob(filepath.Join(dir, "root*"))
			full, health := probe.NewTestProcesses(5, 4096), probe.NewTestProcesses(5, 4096)
			for _, root := range roots {
				v, err := full.Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
				if err != nil {
					t.Fatal(err)
				}
				first := v.(*probe.ProcessesResult).TopCPU[0]
				top, _ := healthTop(t, health, procRoot(root))
				if top == nil || top.PID != first.PID || top.Name != first.Name || top.CPUPercent != first.CPUPercent || top.Started != first.Started ||
					!strings.HasPrefix(first.Cmdline, top.Cmdline) || len(top.Cmdline) > 256 {
					b, _ := json.Marshal(top)
					t.Errorf("over %s: health %s, full %+v", root, b, first)
				}
			}
		})
	}
}

// TestProcessesHealthQuietMachine: on a machine that used less than half a
// core since the last listing, the health variant counts the processes
// without reading them and names no busiest one (none was busy); once the
// machine is busy again it lists them, over the window since that last
// listing, and half a core exactly is busy.
func TestProcessesHealthQuietMachine(t *testing.T) {
	root := procRoot(t.TempDir())
	root.write(t, "proc/stat", "cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 1 1 2 2 3 3 0 0 0\ncpu1 0 1 2 2 3 3 4 0 0 0\nintr 1\nprocs_running 1\nprocs_blocked 0\nbtime 1773302400\n")
	root.write(t, "proc/loadavg", "0.01 0.01 0.01 1/90 4242\n")
	root.proc(t, 77, "bash", 500, 100, "bash\x00")
	pr := probe.NewTestProcesses(5, 4096)
	step := func(uptime, idle string, job int) (*probe.ProcessHealth, error) {
		root.write(t, "proc/uptime", uptime+" "+idle+"\n")
		root.proc(t, 4242, "reportgen", job, 50000, "reportgen\x00")
		v, err := pr.Collect(probe.WithRoot(context.Background(), string(root)), &probe.Env{Health: true})
		if err != nil {
			return nil, err
		}
		return v.(*probe.ProcessHealth), nil
	}
	for _, c := range []struct {
		uptime, idle string
		job          int
		top          bool    // a busiest process named
		window       float64 // its window, seconds
	}{
		{"1000.00", "1900.00", 40000, true, 500}, // no listing yet: the first lists
		{"1060.00", "2019.00", 40100, false, 0},  // 1 core-second in the 60 s since
		{"1120.00", "2080.00", 43100, true, 120}, // 60 core-seconds in the 120 s since the listing: half a core exactly
		{"1180.00", "2199.99", 43101, false, 0},  // 0.01 core-seconds in the 60 s since
		{"1240.00", "2200.00", 49101, true, 120}, // 120 core-seconds in the 120 s since: a whole core
	} {
		h, err := step(c.uptime, c.idle, c.job)
		if err != nil {
			t.Fatal(err)
		}
		if h.Total != 2 || h.Running != 1 || h.Threads != 90 {
			t.Errorf("at %s: total %d, running %d, threads %d; want 2, 1, 90", c.uptime, h.Total, h.Running, h.Threads)
		}
		switch {
		case !c.top && h.Top != nil:
			t.Errorf("at %s the machine was quiet, yet the busiest process is %+v", c.uptime, *h.Top)
		case c.top && (h.Top == nil || h.Top.PID != 4242 || h.Top.WindowSeconds != c.window):
			t.Errorf("at %s: busiest %+v, want reportgen over %v s", c.uptime, h.Top, c.window)
		}
	}
}

package probe

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestHealthTopDetailsKept: the busiest process changes between calls; one
// back on top with the same clean command line is not scrubbed again, and
// the probe keeps the details of at most maxTopDetails processes, none
// that has exited.
func TestHealthTopDetailsKept(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(root, "proc", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", "procs_running 1\nprocs_blocked 0\n")
	write("loadavg", "1.00 1.00 1.00 1/20 100\n")
	const procs = maxTopDetails + 4
	ticks := make([]int, procs)
	gone := map[int]bool{}
	p := &processesProbe{topN: 5, now: time.Now, pageSize: 4096}
	// call makes process busy the busiest over one more second and
	// returns the PID the health variant names and whether it scrubbed.
	call := func(second, busy int) (int32, bool) {
		t.Helper()
		write("uptime", strconv.Itoa(1000+second)+".00 0\n")
		ticks[busy] += 90
		for i := range procs {
			pid := strconv.Itoa(100 + i)
			if gone[i] {
				continue
			}
			write(pid+"/stat", pid+" (job"+pid+") S 1 1 1 0 -1 0 0 0 0 0 "+strconv.Itoa(ticks[i])+" 0 0 0 20 0 1 0 500 1000 300 0\n")
			write(pid+"/cmdline", "/usr/bin/job\x00--id\x00"+pid+"\x00")
		}
		env := &Env{Health: true}
		v, err := p.Collect(WithRoot(t.Context(), root), env)
		if err != nil {
			t.Fatal(err)
		}
		top := v.(*ProcessHealth).Top
		if top == nil || top.Cmdline != "/usr/bin/job --id "+strconv.Itoa(int(top.PID)) {
			t.Fatalf("second %d: busiest %+v", second, top)
		}
		if len(p.topDetails) > maxTopDetails {
			t.Fatalf("second %d: details of %d processes kept, bound %d", second, len(p.topDetails), maxTopDetails)
		}
		return top.PID, env.scrub != nil
	}
	for i := range procs {
		if pid, scrubbed := call(i, i); pid != int32(100+i) || !scrubbed {
			t.Fatalf("process %d new on top: busiest %d, scrubbed %v", 100+i, pid, scrubbed)
		}
	}
	// The last one back on top, and the one before it: read, not scrubbed.
	for n, i := range []int{procs - 2, procs - 1, procs - 2} {
		if pid, scrubbed := call(100+n, i); pid != int32(100+i) || scrubbed {
			t.Errorf("process %d back on top: busiest %d, scrubbed again %v", 100+i, pid, scrubbed)
		}
	}
	// A process that exits is forgotten at the next call.
	gone[procs-1] = true
	if err := os.RemoveAll(filepath.Join(root, "proc", strconv.Itoa(100+procs-1))); err != nil {
		t.Fatal(err)
	}
	call(200, 0)
	if _, ok := p.topDetails[int32(100+procs-1)]; ok {
		t.Error("the details of a process that exited are kept")
	}
}

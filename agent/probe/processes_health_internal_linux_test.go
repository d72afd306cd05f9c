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
	root, write := procTree(t)
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
		return top.PID, env.scrub != nil && env.scrub.lines > 0
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

// TestSecretLineKeptAndCounted: a command line that holds a secret is
// scrubbed once; shown again unchanged, it is not scrubbed anew, and each
// result still counts what was removed from it. Rewritten, it is scrubbed
// again.
func TestSecretLineKeptAndCounted(t *testing.T) {
	root, write := procTree(t)
	p := &processesProbe{topN: 5, now: time.Now, pageSize: 4096}
	call := func(second int, cmdline string) (top string, anew bool, counted uint32) {
		t.Helper()
		write("uptime", strconv.Itoa(1000+second)+".00 0\n")
		write("100/stat", "100 (mysql) S 1 1 1 0 -1 0 0 0 0 0 "+strconv.Itoa(90*second)+" 0 0 0 20 0 1 0 500 1000 300 0\n")
		write("100/cmdline", cmdline)
		env := &Env{Health: true}
		v, err := p.Collect(WithRoot(t.Context(), root), env)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range env.scrubbed() {
			counted += s.Count
		}
		return v.(*ProcessHealth).Top.Cmdline, env.scrub != nil && env.scrub.lines > 0, counted
	}
	const want = "mysql --password=[REDACTED:cli-flag-secret] -h db"
	secret := "mysql\x00--password=Canary-7secret\x00-h\x00db\x00"
	if top, anew, n := call(1, secret); top != want || !anew || n != 1 {
		t.Fatalf("first call: %q, scrubbed anew %v, %d counted; want %q, true, 1", top, anew, n, want)
	}
	for second := 2; second < 5; second++ {
		if top, anew, n := call(second, secret); top != want || anew || n != 1 {
			t.Errorf("call %d, same line: %q, scrubbed anew %v, %d counted; want %q, false, 1", second, top, anew, n, want)
		}
	}
	if top, anew, n := call(5, "mysql\x00--password=Canary-8other\x00\x00"); top != "mysql --password=[REDACTED:cli-flag-secret]" || !anew || n != 1 {
		t.Errorf("rewritten: %q, scrubbed anew %v, %d counted", top, anew, n)
	}
}

// procTree makes a fixture root with /proc/stat and /proc/loadavg, and
// returns it with a function that writes a file under its /proc.
func procTree(t *testing.T) (string, func(name, content string)) {
	t.Helper()
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
	return root, write
}

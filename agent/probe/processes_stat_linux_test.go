package probe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeptStatReadsAfresh: a kept /proc/<pid>/stat read again from its
// start shows the figures of now, and once its process is gone (and
// reaped) it reads an error, not another process's figures.
func TestKeptStatReadsAfresh(t *testing.T) {
	fd, err := unix.Open("/proc/self/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cpu := func() float64 {
		t.Helper()
		b, err := preadRecord(fd, "stat", make([]byte, 512))
		if err != nil {
			t.Fatal(err)
		}
		s, _, ok := parseProcStat(b)
		if !ok {
			t.Fatalf("parsing %q", b)
		}
		return s.cpu
	}
	before := cpu()
	for start := time.Now(); cpu() <= before; {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the CPU time read from a kept stat file does not move")
		}
		for i := 0; i < 1e6; i++ {
			_ = fmt.Sprint(i)
		}
	}

	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a child process to read: %v", err)
	}
	child, err := unix.Open("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(child)
	if _, err := preadRecord(child, "stat", make([]byte, 512)); err != nil {
		t.Fatalf("reading a live child's stat: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if b, err := preadRecord(child, "stat", make([]byte, 512)); err == nil {
		t.Errorf("a reaped process's kept stat still reads: %q", b)
	}
}

// openFiles counts the test process's open descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// writeProc writes process pid's stat under root, with utime ticks of CPU.
func writeProc(t *testing.T, root string, pid, start, utime int) {
	t.Helper()
	dir := filepath.Join(root, "proc", strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%d (p%d) S 1 %d %d 0 -1 4194560 0 0 0 0 %d 0 0 0 20 0 1 0 %d 1000 10 0\n", pid, pid, pid, pid, utime, start)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeptStatFiles: the probe keeps the stat files of processes listed
// at two calls in a row, at most maxKeptStats of them, reads them again
// with their figures of now, closes those of processes gone and takes
// others in their place, closes them all for another /proc, and when it
// is itself collected.
func TestKeptStatFiles(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"uptime", "stat", "meminfo"} {
		content := map[string]string{"uptime": "100.00 100.00\n", "stat": "btime 1773302400\n", "meminfo": "MemTotal: 1000 kB\n"}[name]
		if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "proc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const n = maxKeptStats + 6
	for pid := 100; pid < 100+n; pid++ {
		writeProc(t, root, pid, 50, 0)
	}
	base := openFiles(t)
	ctx := WithRoot(context.Background(), root)
	p := &processesProbe{topN: 3, pageSize: 4096}
	collect := func(step string, wantKept int) {
		t.Helper()
		if _, err := p.Collect(ctx, &Env{}); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if len(p.samples) != n {
			t.Errorf("%s: %d processes read, want %d", step, len(p.samples), n)
		}
		if kept := len(p.kept.fds); kept != wantKept || len(p.kept.pending) != 0 {
			t.Errorf("%s: %d files kept (%d pending), want %d", step, kept, len(p.kept.pending), wantKept)
		}
		if open := openFiles(t) - base; open != wantKept {
			t.Errorf("%s: %d more files open, want %d", step, open, wantKept)
		}
	}
	collect("first call", 0)
	collect("second call", maxKeptStats)
	// Figures change in place: the kept file shows them.
	writeProc(t, root, 100, 50, 4000)
	collect("figures changed", maxKeptStats)
	if top := p.samples; p.prev[100].cpu != 40 {
		t.Errorf("process 100 read with %v s of CPU, want 40 (%d samples)", p.prev[100].cpu, len(top))
	}
	// Three kept processes are gone: others take their place.
	var gone []int32
	for pid := range p.kept.fds {
		if len(gone) < 3 {
			gone = append(gone, pid)
			if err := os.RemoveAll(filepath.Join(root, "proc", strconv.Itoa(int(pid)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, pid := range gone {
		writeProc(t, root, 1000+int(pid), 90, 0) // new processes, kept from their second call
	}
	collect("three gone, three new", maxKeptStats)
	for _, pid := range gone {
		if _, ok := p.kept.fds[pid]; ok {
			t.Errorf("the file of process %d, gone, is still kept", pid)
		}
	}
	// Another /proc: the files kept under the first are closed, and
	// those of the same processes there kept (the processes are known
	// from the last call).
	other := t.TempDir()
	if err := os.CopyFS(other, os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Collect(WithRoot(context.Background(), other), &Env{}); err != nil {
		t.Fatal(err)
	}
	if open := openFiles(t) - base; open != maxKeptStats || p.kept.root != filepath.Join(other, "proc") {
		t.Errorf("over another root: %d more files open, kept under %q", open, p.kept.root)
	}
	for pid, k := range p.kept.fds {
		target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(k.fd))
		if want := filepath.Join(other, "proc", strconv.Itoa(int(pid)), "stat"); err != nil || target != want {
			t.Errorf("process %d's kept file is %q (%v), want %q", pid, target, err, want)
		}
	}
	// A probe dropped: its files are closed once it is collected.
	p = nil
	for start := time.Now(); openFiles(t) != base; {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d more files open after the probe was collected", openFiles(t)-base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFDDirCount: the kernel's count of this process's descriptors is
// what a listing finds, less the listing's own; a directory elsewhere than
// on a procfs is not counted so. Linux counts them in the directory's size
// since 6.2; before, fdDirCount says it cannot and the agent lists them.
func TestFDDirCount(t *testing.T) {
	n, ok := fdDirCount("/proc/self/fd")
	if !ok {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			t.Fatal(err)
		}
		var major, minor int
		fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
		if major > 6 || major == 6 && minor >= 2 {
			t.Fatalf("Linux %d.%d counts descriptors in /proc/<pid>/fd's size, but fdDirCount says it cannot", major, minor)
		}
		return // an older kernel: the agent lists the directory, as openFiles does
	}
	if listed := openFiles(t) - 1; n != listed {
		t.Errorf("counted %d, listed %d", n, listed)
	}
	if n, ok := fdDirCount(t.TempDir()); ok {
		t.Errorf("a temporary directory counted as %d descriptors", n)
	}
}

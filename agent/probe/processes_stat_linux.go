package probe

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// maxKeptStats bounds the /proc/<pid>/stat files the processes probe
// keeps open between calls. Reading a kept file again (pread) costs about
// a third of opening, reading and closing it, but each open file counts
// against the agent's descriptors and holds about 4.5 KB of kernel memory
// (the file and its seq_file page). At rest the probe holds exactly
// min(maxKeptStats, the processes listed at two calls in a row), so that
// its open files do not drift with the machine's processes.
const maxKeptStats = 64

// statFiles are the stat files the processes probe keeps open, by PID,
// under one /proc. A kept file names its process, not its PID: once the
// process is gone it reads ESRCH, never a newer process's figures, and it
// is closed at the first call that no longer lists that PID.
type statFiles struct {
	root string // the /proc they are under
	fds  map[int32]keptStat
	// pending are files opened at this call to be kept, once the files of
	// the processes gone since the last call are closed (sweep).
	pending []pendingStat
	gen     uint32 // the current call
}

// keptStat is a kept file and the last call that listed its process.
type keptStat struct {
	fd  int
	gen uint32
}

// pendingStat is a file to keep for process pid.
type pendingStat struct {
	pid int32
	fd  int
}

// statFiles returns the probe's kept files for a call that lists the
// processes under root; files kept under another root are closed first.
// The files are closed when the probe is garbage collected.
func (p *processesProbe) statFiles(root string) *statFiles {
	k := p.kept
	if k == nil {
		k = &statFiles{fds: map[int32]keptStat{}}
		p.kept = k
		runtime.AddCleanup(p, (*statFiles).closeAll, k)
	}
	if k.root != root {
		k.closeAll()
		k.root = root
	}
	k.gen++
	return k
}

// read reads process pid's kept file into buf; false when there is none,
// or it could not be read (the process is gone), and then it is closed.
func (k *statFiles) read(pid int32, buf []byte) ([]byte, bool) {
	e, ok := k.fds[pid]
	if !ok {
		return nil, false
	}
	b, err := preadRecord(e.fd, "stat", buf)
	if err != nil || len(b) == 0 {
		k.drop(pid)
		return nil, false
	}
	k.fds[pid] = keptStat{fd: e.fd, gen: k.gen}
	return b, true
}

// keep takes fd, process pid's stat file opened at this call, to be kept
// if there is room once the call's listing is done; false when it is
// not taken and stays the caller's to close.
func (k *statFiles) keep(pid int32, fd int) bool {
	if _, dup := k.fds[pid]; dup || len(k.pending) >= maxKeptStats {
		return false
	}
	k.pending = append(k.pending, pendingStat{pid: pid, fd: fd})
	return true
}

// drop closes process pid's kept file.
func (k *statFiles) drop(pid int32) {
	if e, ok := k.fds[pid]; ok {
		unix.Close(e.fd)
		delete(k.fds, pid)
	}
}

// sweep ends a call: it closes the files of the processes the call did
// not list, then keeps the pending files while there is room, and closes
// the others.
func (k *statFiles) sweep() {
	for pid, e := range k.fds {
		if e.gen != k.gen {
			unix.Close(e.fd)
			delete(k.fds, pid)
		}
	}
	for _, ps := range k.pending {
		if _, dup := k.fds[ps.pid]; dup || len(k.fds) >= maxKeptStats {
			unix.Close(ps.fd)
			continue
		}
		k.fds[ps.pid] = keptStat{fd: ps.fd, gen: k.gen}
	}
	clear(k.pending)
	k.pending = k.pending[:0]
}

// closeAll closes every kept and pending file.
func (k *statFiles) closeAll() {
	for _, ps := range k.pending {
		unix.Close(ps.fd)
	}
	k.pending = k.pending[:0]
	for pid, e := range k.fds {
		unix.Close(e.fd)
		delete(k.fds, pid)
	}
}

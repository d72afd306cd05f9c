package probe

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// mountWatch reads a mount table (/proc/<pid>/mountinfo) again only when
// the kernel says it changed. The file stays open: the kernel marks it
// POLLPRI|POLLERR at the next mount or unmount in its namespace (proc(5)),
// and a poll with no wait asks. Reading the table costs the kernel a walk
// of every mount and the text of each (50–80 µs cold here, for 22 mounts),
// at every full snapshot, for the disk and security probes. A file that is
// not procfs's (a test's fixture) says nothing of its changes: it is read
// at every call.
// The zero mountWatch is ready to use.
type mountWatch struct {
	path string
	fd   int
	open bool
	buf  []byte
	ok   bool // buf holds the table as the last poll found it
}

// procSuperMagic is procfs's statfs type.
const procSuperMagic = 0x9fa0

// read returns the table at path, and false when it is the one the last
// call returned (the kernel announced no change since). The table is valid
// until the next call.
func (w *mountWatch) read(path string) (table []byte, changed bool, err error) {
	if w.open && w.path == path && w.ok && !w.moved() {
		return w.buf, false, nil
	}
	w.ok = false
	if !w.open || w.path != path {
		w.close()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, true, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		w.fd, w.open, w.path = fd, true, path
	}
	b, err := w.readAll()
	if err != nil {
		w.close()
		return nil, true, err
	}
	w.buf = b
	var st unix.Statfs_t
	if err := unix.Fstatfs(w.fd, &st); err == nil && st.Type == procSuperMagic {
		w.ok = true
	} else {
		w.close() // nothing to watch: opened and read again next time
	}
	return b, true, nil
}

// maxMountTable bounds the bytes of a mount table read: what lies beyond
// is left out.
const maxMountTable = 4 << 20

// readAll reads the open table from its start, at most maxMountTable
// bytes, into w.buf grown as needed.
func (w *mountWatch) readAll() ([]byte, error) {
	b := w.buf[:cap(w.buf)]
	if len(b) == 0 {
		b = make([]byte, 16<<10)
	}
	n := 0
	for n < maxMountTable {
		if n == len(b) {
			b = append(b, make([]byte, min(len(b), maxMountTable-len(b)))...)
		}
		m, err := unix.Pread(w.fd, b[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: w.path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return b[:n], nil
}

// moved polls the open table, with no wait, for the kernel's mark of a
// change; an error counts as a change.
func (w *mountWatch) moved() bool {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLPRI}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0 && fds[0].Revents&(unix.POLLPRI|unix.POLLERR|unix.POLLNVAL) != 0
	}
}

func (w *mountWatch) close() {
	if w.open {
		unix.Close(w.fd)
	}
	w.open, w.ok = false, false
}

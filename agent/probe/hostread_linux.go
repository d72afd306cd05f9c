//go:build linux

package probe

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"sync"

	"golang.org/x/sys/unix"
)

// procBufs holds the buffers /proc files are read into. Probes run
// concurrently, each reading in turn, so a few buffers serve them all.
var procBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// withProcFile calls fn with the content of a /proc (or /sys) file, read
// with bare system calls into a pooled buffer: os.Open registers /proc
// files with the network poller, which doubles the system calls of a small
// read. The content is only valid during the call.
func withProcFile(path string, fn func(b []byte) error) error {
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	b, err := readFileAt(unix.AT_FDCWD, path, *bp)
	if err != nil {
		return err
	}
	if cap(b) > cap(*bp) && cap(b) <= 1<<20 {
		*bp = b[:cap(b)] // keep the grown buffer for the next large file
	}
	return fn(b)
}

// readFileAt reads the file at path, relative to the directory open as
// dirfd, into buf, growing it when the file does not fit. Relative to an
// open /proc, the kernel walks two path elements, not the whole path.
func readFileAt(dirfd int, path string, buf []byte) ([]byte, error) {
	return readAt(dirfd, path, buf, false)
}

// readRecordAt is readFileAt for a file the kernel produces in one piece on
// the first read(2) (a single_open seq_file, as /proc/<pid>/stat and
// status are): it spares the read that would only see the end of the file.
// Iterated files (mountinfo, vmstat, diskstats) come a page per read and
// need readFileAt.
func readRecordAt(dirfd int, path string, buf []byte) ([]byte, error) {
	return readAt(dirfd, path, buf, true)
}

func readAt(dirfd int, path string, buf []byte, record bool) ([]byte, error) {
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return readFD(fd, path, buf, record, false)
}

// readRecord reads a record file (see readRecordAt) open as fd, which
// was not read yet; path names it in errors.
func readRecord(fd int, path string, buf []byte) ([]byte, error) {
	return readFD(fd, path, buf, true, false)
}

// preadRecord reads a record file open as fd again from its start: the
// kernel produces the record afresh for a read at offset 0.
func preadRecord(fd int, path string, buf []byte) ([]byte, error) {
	return readFD(fd, path, buf, true, true)
}

// readFD reads the file open as fd into buf, growing it when the file
// does not fit, from where it is or, with at, from its start.
func readFD(fd int, path string, buf []byte, record, at bool) ([]byte, error) {
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		var m int
		var err error
		if at {
			m, err = unix.Pread(fd, buf[n:], int64(n))
		} else {
			m, err = unix.Read(fd, buf[n:])
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		n += m
		if m == 0 || record && n < len(buf) {
			return buf[:n], nil
		}
	}
}

// eachDirent calls fn with the name of every entry of the directory open as
// dirfd, using buf for getdents64(2), until fn returns false. The name is
// only valid during the call.
func eachDirent(dirfd int, buf []byte, fn func(name []byte) bool) error {
	for {
		n, err := unix.Getdents(dirfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading directory entries: %w", err)
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if !fn(name) {
				return nil
			}
			b = b[reclen:]
		}
	}
}

// fdDirCount returns the number of open descriptors a /proc/<pid>/fd
// directory holds, as Linux 6.2 and later report it in the directory's
// size, without listing it: listing costs a dentry per descriptor, and the
// agent keeps some open (the processes probe's stat files). False on an
// older kernel, or where path is not on a procfs (a fixture).
func fdDirCount(path string) (int, bool) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return 0, false
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Size <= 0 {
		return 0, false
	}
	return int(st.Size), true
}

package probe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"
)

// This file keeps what a probe computes from configuration files (APT's,
// the proxy variables in /etc) between snapshots, for as long as none of
// the files and folders it read has changed: checking costs one stat
// each, where reading them again costs an open, reads and a close each,
// and the parsing (0.2 ms of the proxy probe's 0.26, cold). A computation
// reads through traceRead, traceList and traceStat with the context
// fileMemo.get gives it, which note what they looked at.

// fileStamp tells a state of a file or folder from another without
// reading it: its inode, size, and modification and change times, or that
// it was not there.
type fileStamp struct {
	ino, size    uint64
	mtime, ctime int64 // nanoseconds
	absent       bool
}

// racyWindow is how recent a change makes a stamp untrusted. A file system
// stamps changes with a clock that ticks coarsely (a few milliseconds); a
// second change of the same size within the same tick would leave the
// stamp as it was (git's "racy" index entries). A result read from a file
// changed within racyWindow before the reading began is not kept.
const racyWindow = 2 * time.Second

// fileTrace notes the files and folders one computation looked at.
type fileTrace struct {
	began time.Time
	seen  []tracedPath
	// weak says that something was read whose state cannot be vouched
	// for: changed too recently, unreadable, or without an inode here.
	weak bool
}

// tracedPath is a path looked at, how (lstat: without following a final
// symbolic link), and its stamp then.
type tracedPath struct {
	path  string
	lstat bool
	stamp fileStamp
}

type traceKey struct{}

// traceOf returns the trace ctx carries, or nil.
func traceOf(ctx context.Context) *fileTrace {
	t, _ := ctx.Value(traceKey{}).(*fileTrace)
	return t
}

// stat stats path (lstat: without following a final link), noting it,
// and says whether it could.
func (t *fileTrace) stat(path string, lstat bool) bool {
	stat := os.Stat
	if lstat {
		stat = os.Lstat
	}
	fi, err := stat(path)
	if t == nil {
		return err == nil
	}
	st, ok := stampOf(fi, err)
	if !ok || !st.absent && t.began.UnixNano()-max(st.mtime, st.ctime) < int64(racyWindow) {
		t.weak = true
	}
	t.seen = append(t.seen, tracedPath{path, lstat, st})
	return err == nil
}

// unchanged says whether every path of t has the stamp it had.
func (t *fileTrace) unchanged() bool {
	for _, p := range t.seen {
		stat := os.Stat
		if p.lstat {
			stat = os.Lstat
		}
		if st, ok := stampOf(stat(p.path)); !ok || st != p.stamp {
			return false
		}
	}
	return true
}

// stampOf is the stamp of what a stat returned; false when it cannot be
// told (an error other than absence, or no inode on this system).
func stampOf(fi fs.FileInfo, err error) (fileStamp, bool) {
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{absent: true}, true
	}
	if err != nil {
		return fileStamp{}, false
	}
	return statStamp(fi)
}

// traceRead is readCapped, noting the file's stamp, taken before it is
// read: a change after the stamp and before the read shows at the next
// check as a change, so the result is computed again.
func traceRead(ctx context.Context, path string, limit int) ([]byte, bool, error) {
	if t := traceOf(ctx); t != nil {
		t.stat(path, false)
	}
	return readCapped(path, limit)
}

// traceList is listNames, noting the folder's stamp (its modification
// time moves when an entry is added, removed or renamed).
func traceList(ctx context.Context, dir, suffix string, max int) ([]string, int, error) {
	if t := traceOf(ctx); t != nil {
		t.stat(dir, false)
	}
	return listNames(dir, suffix, max)
}

// traceExists says whether path can be stat'ed (lstat: without following
// a final link), noting its stamp.
func traceExists(ctx context.Context, path string, lstat bool) bool {
	return traceOf(ctx).stat(path, lstat)
}

// fileMemo keeps a value computed from files while they are unchanged.
// The value is shared between the calls that get it: they must not change
// it.
type fileMemo[T any] struct {
	trace *fileTrace // nil when nothing is kept
	val   T
	// now is time.Now, or a test's clock.
	now func() time.Time
}

// get returns the kept value if the files it was computed from are as
// they were, else what compute makes of them, kept unless the trace is
// weak.
func (m *fileMemo[T]) get(ctx context.Context, compute func(ctx context.Context) T) T {
	if m.trace != nil && m.trace.unchanged() {
		return m.val
	}
	var zero T
	m.trace, m.val = nil, zero
	now := m.now
	if now == nil {
		now = time.Now
	}
	t := &fileTrace{began: now()}
	v := compute(context.WithValue(ctx, traceKey{}, t))
	if !t.weak {
		m.trace, m.val = t, v
	}
	return v
}

package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// usageWalk is a bounded walk of one file system that adds up what its
// folders hold. It goes breadth first: when a bound cuts it short, every
// part of the tree was seen to the same depth, rather than one corner
// whole and the rest not at all (the corner that matters, /var/log/app, is
// seldom the first). Entries are read with lstat semantics, so a symbolic
// link is never followed (nor, on Windows, a junction or a volume mount
// point, which Lstat does not report as folders), and a folder on another
// device is not entered.
type usageWalk struct {
	// device returns the ID of the file system holding the folder at path
	// (st_dev), or false when the platform does not say.
	device func(path string, fi fs.FileInfo) (uint64, bool)
	// size is what an entry takes; sizeKind names it ("allocated",
	// "apparent").
	size     func(fi fs.FileInfo) uint64
	sizeKind string
	now      func() time.Time
	// maxDepth is how many folder levels below the root are read;
	// maxEntries bounds the entries looked at; top is how many folders and
	// files are listed. The walk stops at deadline; maxTime is the probe's
	// budget from which deadlines are cut.
	maxDepth, maxEntries, top int
	maxTime                   time.Duration
	deadline                  time.Time
}

// defaultUsageWalk is the probe's walk on this platform.
var defaultUsageWalk = usageWalk{
	device: fileDevice, size: fileSize, sizeKind: fileSizeKind,
	maxDepth: maxUsageDepth, maxEntries: maxUsageEntries, maxTime: maxUsageTime, top: maxUsageTop,
}

// The bounds that cut a walk short, as the result names them.
const (
	cutDepth   = "depth"
	cutEntries = "entries"
	cutTime    = "time"
)

// readBatch is how many entries of a folder are read at a time: a folder
// of a million files is read a bounded slice at a time.
const readBatch = 512

// clockEvery is how many entries pass between looks at the clock.
const clockEvery = 64

// walkOutcome is what a walk found. Paths are relative to its root.
type walkOutcome struct {
	dirs, files []sizedPath
	bytes       uint64
	visited     int
	unreadable  int
	otherFS     int
	cut         []string
}

// sizedPath is a path and its size.
type sizedPath struct {
	path  string
	bytes uint64
}

// dirNode is one folder the walk read. Its path is rebuilt from its chain
// of parents when it is listed, so that the walk holds names, not paths.
type dirNode struct {
	parent *dirNode
	name   string
	depth  int
	bytes  uint64 // everything counted beneath it, itself included
	inner  uint64 // the bytes of its largest subfolder, once the walk is done
}

// walkState is one walk in progress.
type walkState struct {
	w          *usageWalk
	ctx        context.Context
	dev        uint64
	haveDev    bool
	dirs       []*dirNode
	files      topList
	visited    int
	unreadable int
	otherFS    int
	depthCut   bool
	stop       string // cutEntries or cutTime once the walk must end
}

// pendingDir is a folder waiting to be read, with its path from here.
type pendingDir struct {
	node *dirNode
	path string
}

// errNotFolder is the walk's answer for a root that is not a folder.
var errNotFolder = errors.New("not a folder")

// run walks the file system from root, a folder.
func (w *usageWalk) run(ctx context.Context, root string) (walkOutcome, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return walkOutcome{}, fmt.Errorf("reading the folder to walk: %w", err)
	}
	if !fi.IsDir() {
		return walkOutcome{}, errNotFolder
	}
	s := &walkState{w: w, ctx: ctx, files: topList{n: w.top}}
	s.dev, s.haveDev = w.device(root, fi)
	top := &dirNode{bytes: w.size(fi)}
	queue := []pendingDir{{top, root}}
	for len(queue) > 0 && s.stop == "" {
		next := queue[0]
		queue[0] = pendingDir{}
		queue = queue[1:]
		if s.expired() {
			break
		}
		queue = s.read(next, queue)
	}
	out := walkOutcome{bytes: top.bytes, visited: s.visited, unreadable: s.unreadable, otherFS: s.otherFS, files: s.files.items}
	out.dirs = s.largestDirs()
	if s.depthCut {
		out.cut = append(out.cut, cutDepth)
	}
	if s.stop != "" {
		out.cut = append(out.cut, s.stop)
	}
	return out, nil
}

// read reads the folder p, counts its entries into it and its parents,
// and returns queue with its subfolders appended.
func (s *walkState) read(p pendingDir, queue []pendingDir) []pendingDir {
	f, err := os.Open(p.path)
	if err != nil {
		s.unreadable++
		return queue
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(readBatch)
		for _, e := range ents {
			if !s.tick() {
				return queue
			}
			fi, err := e.Info()
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) { // gone since listed: nothing to count
					s.unreadable++
				}
				continue
			}
			if fi.IsDir() {
				queue = s.folder(p, fi, queue)
				continue
			}
			n := s.w.size(fi)
			add(p.node, n)
			if fi.Mode().IsRegular() && n > 0 {
				s.files.offer(n, p.node, fi.Name())
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.unreadable++
			}
			return queue
		}
	}
}

// folder counts a subfolder of p and queues it to be read, unless another
// file system is mounted there or it lies too deep.
func (s *walkState) folder(p pendingDir, fi fs.FileInfo, queue []pendingDir) []pendingDir {
	path := filepath.Join(p.path, fi.Name())
	if s.haveDev {
		if dev, ok := s.w.device(path, fi); ok && dev != s.dev {
			s.otherFS++
			return queue
		}
	}
	n := s.w.size(fi)
	add(p.node, n)
	child := &dirNode{parent: p.node, name: fi.Name(), depth: p.node.depth + 1, bytes: n}
	if child.depth > s.w.maxDepth {
		s.depthCut = true
		return queue
	}
	s.dirs = append(s.dirs, child)
	return append(queue, pendingDir{child, path})
}

// largestDirs lists the largest folders read. A folder that is little
// more than one of its subfolders (/data/projects holding only
// /data/projects/render) is left for that subfolder, whose path says both:
// otherwise a chain of such folders would fill the list.
func (s *walkState) largestDirs() []sizedPath {
	for _, d := range s.dirs {
		d.parent.inner = max(d.parent.inner, d.bytes)
	}
	dirs := topList{n: s.w.top}
	for _, d := range s.dirs {
		if float64(d.inner) < passThroughShare*float64(d.bytes) {
			dirs.offer(d.bytes, d.parent, d.name)
		}
	}
	return dirs.items
}

// passThroughShare is the share of a folder that one subfolder holds when
// the folder is listed as that subfolder.
const passThroughShare = 0.99

// tick counts one more entry and says whether the walk may look at it.
func (s *walkState) tick() bool {
	if s.visited >= s.w.maxEntries {
		s.stop = cutEntries
		return false
	}
	if s.visited%clockEvery == 0 && s.expired() {
		return false
	}
	s.visited++
	return true
}

// expired says whether the walk's time is up, or its caller gave up.
func (s *walkState) expired() bool {
	if s.ctx.Err() != nil || !s.w.now().Before(s.w.deadline) {
		s.stop = cutTime
		return true
	}
	return false
}

// add counts n bytes in d and each folder above it.
func add(d *dirNode, n uint64) {
	for ; d != nil; d = d.parent {
		d.bytes += n
	}
}

// relPath is the path of name in folder d, relative to the walk's root.
func relPath(d *dirNode, name string) string {
	parts := []string{name}
	for ; d != nil && d.parent != nil; d = d.parent {
		parts = append(parts, d.name)
	}
	slices.Reverse(parts)
	return filepath.Join(parts...)
}

// topList keeps the n largest entries offered, largest first, ties in
// path order.
type topList struct {
	n     int
	items []sizedPath
}

// offer considers name in folder d, of size bytes. Its path is built only
// when it makes the list.
func (t *topList) offer(bytes uint64, d *dirNode, name string) {
	if t.n <= 0 || len(t.items) == t.n && bytes < t.items[len(t.items)-1].bytes {
		return
	}
	e := sizedPath{relPath(d, name), bytes}
	i := sort.Search(len(t.items), func(i int) bool { return before(e, t.items[i]) })
	if i == t.n {
		return
	}
	t.items = slices.Insert(t.items, i, e)
	if len(t.items) > t.n {
		t.items = t.items[:t.n]
	}
}

// before orders a list largest first, then by path.
func before(a, b sizedPath) bool {
	if a.bytes != b.bytes {
		return a.bytes > b.bytes
	}
	return a.path < b.path
}

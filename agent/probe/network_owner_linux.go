//go:build linux

package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// ownerSearchWith returns the search for sockets' owners that reads
// descriptors' links with readlink (unix.Readlinkat; a fake in tests):
// for each socket inode in want, it sets the descriptor of the first
// process found holding it, reading the links in /proc/<pid>/fd
// ("socket:[INODE]") relative to an open /proc: first the one link want
// names for it, if any (its holder at the previous call); then, for the
// sockets not found so, the processes of first, then the others in
// increasing PID order (so that of processes sharing a socket, the parent
// is usually found). It stops once every inode has its owner, and early
// (saying why) at lim's processes or descriptors, or when expired says the
// time is up. Unlike gopsutil's lookup, which maps every descriptor of
// every process first, only the inodes asked for are kept.
func ownerSearchWith(readlink func(dirfd int, path string, buf []byte) (int, error)) ownerSearch {
	return func(ctx context.Context, want map[uint64]fdRef, first []int32, lim ownerLimits, expired func() bool) (string, error) {
		return findSocketOwners(ctx, ownerWalk{want: want, lim: lim, expired: expired, readlink: readlink}, first)
	}
}

// findSocketOwners runs the search s: see ownerSearchWith.
func findSocketOwners(ctx context.Context, s ownerWalk, first []int32) (string, error) {
	if len(s.want) == 0 {
		return "", nil
	}
	dir, err := openProcDir(ctx)
	if err != nil {
		return "", err
	}
	defer unix.Close(dir)
	s.dir = dir
	if why := s.recheck(); why != "" {
		return why, nil
	}
	if s.left == 0 {
		return "", nil
	}
	buf := make([]byte, 16<<10)
	var pids []int32
	err = eachDirent(dir, buf, func(name []byte) bool {
		if pid := atou(name); pid > 0 && pid <= math.MaxInt32 {
			pids = append(pids, int32(pid))
		}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("listing processes: %w", err)
	}
	slices.Sort(pids)
	for _, pid := range firstThen(first, pids) {
		if s.left == 0 {
			return "", nil
		}
		if why := s.look(pid); why != "" {
			return why, nil
		}
		if why := s.walk(pid, buf); why != "" {
			return why, nil
		}
	}
	return "", nil
}

// ownerWalk is one search for sockets' owners.
type ownerWalk struct {
	dir     int // the host's /proc, open
	want    map[uint64]fdRef
	lim     ownerLimits
	expired func() bool
	// left counts the inodes not found yet; processes and fds count what
	// was looked into, against lim.
	left, processes, fds int
	link                 [64]byte // "socket:[4294967295]" and more fit
	readlink             func(dirfd int, path string, buf []byte) (int, error)
}

// look counts process pid as looked into, or says why the search stops
// before it.
func (s *ownerWalk) look(pid int32) string {
	switch {
	case s.processes == s.lim.pids:
		return ownersStopped("processes", s.processes)
	case s.expired():
		return ownersStopped("processes, at the deadline", s.processes)
	}
	s.processes++
	return ""
}

// recheck reads again the one link each socket was found at, at the
// previous call, in PID order; left counts the sockets it does not find
// there (or had none), for the walk.
func (s *ownerWalk) recheck() string {
	held := make([]fdRef, 0, len(s.want))
	for inode, ref := range s.want {
		if ref.pid > 0 {
			held = append(held, ref)
		}
		s.want[inode] = fdRef{}
	}
	s.left = len(s.want)
	sort.Slice(held, func(i, j int) bool { // not slices.SortFunc: see sortUnits
		return cmp.Or(cmp.Compare(held[i].pid, held[j].pid), cmp.Compare(held[i].fd, held[j].fd)) < 0
	})
	var last int32
	for _, ref := range held {
		if ref.pid != last {
			if why := s.look(ref.pid); why != "" {
				return why
			}
			last = ref.pid
		}
		if s.fds == s.lim.fds {
			return ownersStopped("descriptors", s.fds)
		}
		s.fds++
		n, err := s.readlink(s.dir, strconv.Itoa(int(ref.pid))+"/fd/"+strconv.Itoa(int(ref.fd)), s.link[:])
		if err != nil {
			continue // closed, or its process gone
		}
		s.record(s.link[:n], ref)
	}
	return ""
}

// record notes ref as the holder of the socket whose link target is
// link, if that socket is wanted and not found yet.
func (s *ownerWalk) record(link []byte, ref fdRef) {
	inode, ok := parseSocketLink(link)
	if held, wanted := s.want[inode]; ok && wanted && held.pid == 0 {
		s.want[inode] = ref
		s.left--
	}
}

// walk reads every descriptor of process pid until no inode is left to
// find, or says why the search stops. A process whose descriptors the
// agent may list but not read (one with more privileges: the kernel asks
// for ptrace access to read the links) is left at its first refusal:
// reading on would cost a refused system call for each of its
// descriptors, 640 of them for one such process here at each search.
func (s *ownerWalk) walk(pid int32, buf []byte) string {
	fd, err := unix.Openat(s.dir, strconv.Itoa(int(pid))+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "" // gone, or not ours to look into
	}
	defer unix.Close(fd)
	full := false
	_ = eachDirent(fd, buf, func(name []byte) bool {
		if len(name) == 0 || name[0] == '.' {
			return true
		}
		if s.fds == s.lim.fds {
			full = true
			return false
		}
		s.fds++
		n, err := s.readlink(fd, string(name), s.link[:])
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return false // none of its links will be ours to read
		}
		if err != nil {
			return true // closed since the listing
		}
		if num := atou(name); num <= math.MaxInt32 {
			s.record(s.link[:n], fdRef{pid: pid, fd: int32(num)})
		}
		return s.left > 0
	})
	if full {
		return ownersStopped("descriptors", s.fds)
	}
	return ""
}

// firstThen orders the PIDs of sorted pids that are in first (sorted,
// without repeats) before the others.
func firstThen(first, pids []int32) []int32 {
	if len(first) == 0 {
		return pids
	}
	out := make([]int32, 0, len(pids))
	for _, pid := range first {
		if _, ok := slices.BinarySearch(pids, pid); ok {
			out = append(out, pid)
		}
	}
	for _, pid := range pids {
		if _, ok := slices.BinarySearch(first, pid); !ok {
			out = append(out, pid)
		}
	}
	return out
}

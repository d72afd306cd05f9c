//go:build linux

package probe

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// findSocketOwners sets, for each socket inode in want, the PID of the
// first process found holding it, reading the links in /proc/<pid>/fd
// ("socket:[INODE]") relative to an open /proc: the processes of first,
// then the others in increasing PID order (so that of processes sharing a
// socket, the parent is usually found). It stops once every inode has its
// owner, and early (saying why) at lim's processes or descriptors, or when
// expired says the time is up. Unlike gopsutil's lookup, which maps every
// descriptor of every process first, only the inodes asked for are kept.
func findSocketOwners(ctx context.Context, want map[uint64]int32, first []int32, lim ownerLimits, expired func() bool) (string, error) {
	if len(want) == 0 {
		return "", nil
	}
	dir, err := openProcDir(ctx)
	if err != nil {
		return "", err
	}
	defer unix.Close(dir)
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
	pids = firstThen(first, pids)
	left, fds := len(want), 0
	var link [64]byte // "socket:[4294967295]" and more fit
	for i, pid := range pids {
		switch {
		case left == 0:
			return "", nil
		case i == lim.pids:
			return ownersStopped("processes", i), nil
		case expired():
			return ownersStopped("processes, at the deadline", i), nil
		}
		fd, err := unix.Openat(dir, strconv.Itoa(int(pid))+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone, or not ours to look into
		}
		full := false
		_ = eachDirent(fd, buf, func(name []byte) bool {
			if len(name) == 0 || name[0] == '.' {
				return true
			}
			if fds == lim.fds {
				full = true
				return false
			}
			fds++
			n, err := unix.Readlinkat(fd, string(name), link[:])
			if err != nil {
				return true // closed since the listing
			}
			inode, ok := parseSocketLink(link[:n])
			if owner, wanted := want[inode]; ok && wanted && owner == 0 {
				want[inode] = pid
				left--
			}
			return left > 0
		})
		unix.Close(fd)
		if full {
			return ownersStopped("descriptors", fds), nil
		}
	}
	return "", nil
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

package polite

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Linux's nice value and I/O priority are a thread's when set through its
// thread ID (PRIO_PROCESS and IOPRIO_WHO_PROCESS take a tid).
const (
	// Nice is the nice value of an on-demand thread: it gets a fraction
	// of a core that a busy user's threads at 0 leave (about a tenth).
	Nice = 10
	// IOLevel is its best-effort I/O level, the lowest (0 is highest).
	IOLevel = 7

	ioprioWhoProcess = 1
	ioprioClassShift = 13
	ioprioClassBE    = 2
)

// IOPrio returns the ioprio value of class and level, as ioprio_set takes it.
func IOPrio(class, level int) int { return class<<ioprioClassShift | level }

// BestEffort7 is the I/O priority of an on-demand thread.
var BestEffort7 = IOPrio(ioprioClassBE, IOLevel)

// lowerThread sets the calling thread's nice to Nice (unless it is nicer
// already) and its I/O priority to best-effort level 7: six system calls
// with the restore, reading the old values first.
func lowerThread() (func() error, error) {
	tid := unix.Gettid()
	oldNice, err := ThreadNice(tid)
	if err != nil {
		return nil, err
	}
	oldIO, err := ThreadIOPrio(tid)
	if err != nil {
		return nil, err
	}
	if oldNice < Nice {
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, Nice); err != nil {
			return nil, fmt.Errorf("setting the nice value of thread %d: %w", tid, err)
		}
	}
	restore := func() error {
		ioErr := setIOPrio(tid, oldIO)
		if oldNice < Nice {
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, oldNice); err != nil {
				return fmt.Errorf("setting the nice value of thread %d back to %d: %w", tid, oldNice, err)
			}
		}
		return ioErr
	}
	if err := setIOPrio(tid, BestEffort7); err != nil {
		return restore, err
	}
	return restore, nil
}

// ThreadNice returns the nice value of thread tid.
func ThreadNice(tid int) (int, error) {
	// The system call answers 20 - nice, so that no answer is negative.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, fmt.Errorf("reading the nice value of thread %d: %w", tid, err)
	}
	return 20 - p, nil
}

// ThreadIOPrio returns the I/O priority of thread tid, as ioprio_get
// answers it.
func ThreadIOPrio(tid int) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
	if errno != 0 {
		return 0, fmt.Errorf("reading the I/O priority of thread %d: %w", tid, errno)
	}
	return int(r), nil
}

func setIOPrio(tid, prio int) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), uintptr(prio)); errno != 0 {
		return fmt.Errorf("setting the I/O priority of thread %d to %#x: %w", tid, prio, errno)
	}
	return nil
}

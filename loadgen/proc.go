package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procRoot is /proc; tests point it at a fixture tree.
var procRoot = "/proc"

// Process is a process read from /proc: the collector under load.
type Process struct{ PID int }

// RSS is the process's resident set (VmRSS), in bytes.
func (p Process) RSS() (int64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(p.PID), "status"))
	if err != nil {
		return 0, fmt.Errorf("reading the collector's memory: %w", err)
	}
	return statusKB(b, "VmRSS")
}

// statusKB reads a "Name:   123 kB" line of /proc/PID/status, in bytes.
func statusKB(status []byte, name string) (int64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line in kB in /proc/PID/status", name)
}

// clockTick is USER_HZ, 100 on every Linux Go supports.
const clockTick = 100

// CPU is the process's user + system CPU time so far.
func (p Process) CPU() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(p.PID), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", p.PID, err)
	}
	return statCPU(b)
}

// statCPU reads utime and stime (fields 14 and 15) from /proc/PID/stat;
// the command name before them, in parentheses, may hold spaces.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat has no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("/proc/PID/stat is too short")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// FindProcess finds the one running process named name (as /proc/PID/comm
// has it, at most 15 bytes).
func FindProcess(name string) (Process, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return Process{}, fmt.Errorf("looking for %s: %w", name, err)
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			found = append(found, pid)
		}
	}
	switch len(found) {
	case 0:
		return Process{}, fmt.Errorf("no process named %s here: give --collector-pid", name)
	case 1:
		return Process{PID: found[0]}, nil
	}
	return Process{}, fmt.Errorf("%d processes named %s (%v): give --collector-pid", len(found), name, found)
}

// LoadAvg is /proc/loadavg's first three figures, as written there.
func LoadAvg() string {
	b, err := os.ReadFile(filepath.Join(procRoot, "loadavg"))
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// UDPBufferWant is the socket buffer quic-go asks for (7 MiB, both ways);
// the kernel caps it at net.core.rmem_max and wmem_max, and quic-go logs
// a warning for each socket where it gets less.
const UDPBufferWant = 7 << 20

// UDPBuffers reads net.core.rmem_max and wmem_max and says whether both
// let quic-go have the buffers it asks for.
func UDPBuffers() (rmem, wmem int64, ok bool, err error) {
	read := func(name string) (int64, error) {
		b, err := os.ReadFile(filepath.Join(procRoot, "sys/net/core", name))
		if err != nil {
			return 0, fmt.Errorf("reading net.core.%s: %w", name, err)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading net.core.%s: %w", name, err)
		}
		return v, nil
	}
	if rmem, err = read("rmem_max"); err != nil {
		return 0, 0, false, err
	}
	if wmem, err = read("wmem_max"); err != nil {
		return 0, 0, false, err
	}
	return rmem, wmem, rmem >= UDPBufferWant && wmem >= UDPBufferWant, nil
}

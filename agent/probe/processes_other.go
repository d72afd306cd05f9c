//go:build !linux

package probe

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/process"
)

// otherStates maps gopsutil's process states to the probe's.
var otherStates = map[string]string{
	process.Running: "running", process.Sleep: "sleeping", process.Idle: "idle",
	process.Stop: "stopped", process.Zombie: "zombie", process.Blocked: "disk-sleep",
	process.Wait: "paging", process.Lock: "disk-sleep",
}

// errForks is why macOS has no per-process figures: gopsutil reads a
// process's state there (and, built without cgo, its times and memory) by
// running ps(1) for it, and the agent never forks.
var errForks = errors.New("per-process figures are not read on macOS: gopsutil would run ps(1) for each process")

// sample reads every process through gopsutil. The clock is the wall
// clock, in seconds, which process creation times are counted on.
func (p *processesProbe) sample(ctx context.Context) (procSnapshot, error) {
	return p.sampleWith(ctx, false)
}

// sampleWith is sample; light reads only each process's start and CPU
// times, what the health variant ranks by: the rest costs a system call or
// more each (on Windows, the thread count takes a snapshot of every
// process, for each process).
func (p *processesProbe) sampleWith(ctx context.Context, light bool) (procSnapshot, error) {
	snap := procSnapshot{idle: -1}
	if runtime.GOOS == "darwin" {
		return snap, errForks
	}
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return snap, fmt.Errorf("listing processes: %w", err)
	}
	snap.clock = float64(p.now().UnixNano()) / 1e9 // and so epoch is 0
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		snap.memTotal = vm.Total
	}
	p.samples = p.samples[:0]
	snap.listed = len(procs)
	for _, pr := range procs {
		created, err := pr.CreateTimeWithContext(ctx)
		if err != nil {
			continue // exited since the listing, or not ours to read
		}
		s := procSample{pid: pr.Pid, started: float64(created) / 1e3, state: "other"}
		if t, err := pr.TimesWithContext(ctx); err == nil {
			s.cpu = t.User + t.System
		}
		if light {
			p.samples = append(p.samples, s)
			continue
		}
		s.name, _ = pr.NameWithContext(ctx)
		if st, err := pr.StatusWithContext(ctx); err == nil && len(st) > 0 {
			if name, ok := otherStates[st[0]]; ok {
				s.state = name
			}
		}
		if m, err := pr.MemoryInfoWithContext(ctx); err == nil {
			s.rss = m.RSS
		}
		if n, err := pr.NumThreadsWithContext(ctx); err == nil {
			s.threads = int(n)
		}
		p.samples = append(p.samples, s)
	}
	return snap, nil
}

// sampleOne reads process pid's name and start time, for callers that know
// the processes they want by PID; false when it is gone. A start time
// that is not ours to read (a protected Windows process) stays 0.
func (p *processesProbe) sampleOne(ctx context.Context, pid int32) (procSample, bool) {
	pr, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return procSample{}, false
	}
	s := procSample{pid: pid}
	if created, err := pr.CreateTimeWithContext(ctx); err == nil {
		s.started = float64(created) / 1e3
	}
	s.name, _ = pr.NameWithContext(ctx)
	return s, true
}

// statFiles is empty: only Linux keeps per-process files open between
// calls.
type statFiles struct{}

// commLen is 0: gopsutil's names are whole here (Windows names a process
// by its executable's file name; the BSDs' cut names are completed).
const commLen = 0

// readDetail reads what the probe shows of process s beyond its listing,
// through gopsutil: its command line, and when static is set its user,
// executable and parent (a Windows process keeps its parent's PID for
// life) too.
func (p *processesProbe) readDetail(ctx context.Context, s *procSample, d *procDetail, static bool) (raw []byte, cut bool) {
	pr, err := process.NewProcessWithContext(ctx, s.pid)
	if err != nil {
		return nil, false // gone since the listing
	}
	if static {
		d.user, _ = pr.UsernameWithContext(ctx)
		exe, _ := pr.ExeWithContext(ctx)
		d.exe, _ = bound(exe, maxExe, false)
		d.ppid, _ = pr.PpidWithContext(ctx)
	}
	c, err := pr.CmdlineWithContext(ctx)
	if err != nil {
		return nil, false // not ours to read
	}
	return []byte(c), false
}

// cmdlineText bounds a command line read by readDetail: gopsutil joins
// its arguments already.
func cmdlineText(raw []byte, cut bool) (string, bool) { return bound(string(raw), maxCmdlineRead, cut) }

// exeForMatch returns "": the process names are the executables' file
// names already, so reading the executable of every process to match a
// name would cost much and find nothing more.
func (p *processesProbe) exeForMatch(context.Context, int32) string { return "" }

// health lists the processes with their CPU times, lightly, to find the
// busiest (see processes_health.go), and reads its name alone; on macOS,
// where per-process figures would fork, it counts the processes.
func (p *processesProbe) health(ctx context.Context, env *Env) (*ProcessHealth, error) {
	if runtime.GOOS == "darwin" {
		pids, err := process.PidsWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing processes: %w", err)
		}
		return &ProcessHealth{Total: len(pids)}, nil
	}
	snap, err := p.sampleWith(ctx, true)
	if err != nil {
		return nil, err
	}
	h := &ProcessHealth{Total: snap.listed}
	if s := p.busiest(snap); s != nil {
		if pr, err := process.NewProcessWithContext(ctx, s.pid); err == nil {
			s.name, _ = pr.NameWithContext(ctx)
		}
		h.Top = p.topOf(ctx, env, snap, s)
	}
	return h, nil
}

package probe

import (
	"context"
	"os"
	"slices"
	"time"
)

func init() {
	Register("processes", Spec{Platforms: Everywhere}, func() Probe {
		return &processesProbe{topN: defaultTopProcesses, now: time.Now, pageSize: uint64(os.Getpagesize())}
	})
}

// defaultTopProcesses is how many processes each top list holds.
const defaultTopProcesses = 10

// processesProbe counts processes by state and lists the top consumers of
// CPU and memory, and the processes asked for by name. The reading itself
// is per operating system: Linux reads /proc/<pid>/stat once per process
// (processes_linux.go), elsewhere gopsutil does (processes_other.go). Only
// the processes it shows cost more: their user, executable and command line
// (processes_detail.go).
type processesProbe struct {
	// topN is the length of each top list.
	topN int
	// now is the clock for CPU rates where the host has no uptime file to
	// serve as one (Linux uses /proc/uptime, which fixtures provide).
	now func() time.Time
	// pageSize converts resident pages to bytes.
	pageSize uint64
	// prev and next map a process to its CPU time at the previous call; the
	// two maps are swapped and reused rather than reallocated.
	prev, next map[int32]procPrev
	// prevClock is the snapshot clock at the previous call, 0 before it;
	// prevIdle the CPUs' idle seconds then, -1 where not known (see quiet).
	prevClock, prevIdle float64
	// kept are the per-process files kept open between calls, where the
	// platform does (Linux: processes_stat_linux.go).
	kept *statFiles
	// samples and buf are reused between calls.
	samples []procSample
	buf     []byte
	dirBuf  []byte
	// uidNames maps user IDs to names; read once per call, when needed.
	uidNames map[string]string
	// details is what was read of the processes shown at the last call,
	// by PID, so that the next call reads again only what can change;
	// topDetails the same of the busiest processes at the last health
	// calls (see keepTop).
	details    map[int32]procDetail
	topDetails map[int32]procDetail
	// calls and healthCalls count the full and the health calls, to tell
	// which details are the newest.
	calls, healthCalls uint64
	// bootTime is the Unix time of the clock's zero where that clock is the
	// uptime (Linux), read once: 0 until then, or where the clock is the
	// Unix clock itself.
	bootTime float64
}

// procPrev is what a process's CPU rate is computed against.
type procPrev struct {
	cpu     float64 // seconds of CPU, user and system
	started float64 // start time on the snapshot's clock, to tell PID reuse
	name    string  // reused by the next listing while it is the same
}

// procSample is one process as read from the host.
type procSample struct {
	pid     int32
	ppid    int32 // where the listing carries it (Linux); see procDetail
	name    string
	state   string
	cpu     float64 // seconds of CPU since start, user and system
	started float64 // start time on the snapshot's clock
	rss     uint64
	threads int
	// kthread says it is a kernel thread (Linux): no user space, so no
	// executable or command line to read, and root's.
	kthread bool
	// cpuPercent and window (seconds) are filled by rates: the CPU use,
	// in percent of one CPU, over the window.
	cpuPercent float64
	window     float64
}

// procSnapshot is every process at one instant.
type procSnapshot struct {
	// clock is the instant on the same clock as the samples' start times;
	// idle is the seconds all CPUs together were idle since boot at that
	// instant, -1 where not known.
	clock    float64
	idle     float64
	memTotal uint64
	// epoch is the Unix time, in seconds, at which clock was 0, to turn
	// start times into dates; negative when unknown.
	epoch float64
	// listed counts the processes listed, those whose figures could not
	// be read (exited since, or not ours to read) included.
	listed int
}

// ProcessesResult is the processes probe's full result.
type ProcessesResult struct {
	Counts    ProcessCounts `json:"counts"`
	TopCPU    []ProcessInfo `json:"top_cpu"`
	TopMemory []ProcessInfo `json:"top_memory"`
	// Named holds, per name asked for (Env.Processes), the processes of
	// that name; NotFound the names no process has.
	Named    []NamedProcesses `json:"named,omitempty"`
	NotFound []string         `json:"not_found,omitempty"`
}

// ProcessCounts counts processes by state, and their threads.
type ProcessCounts struct {
	Total     int `json:"total"`
	Running   int `json:"running"`
	Sleeping  int `json:"sleeping"`
	DiskSleep int `json:"disk_sleep"`
	Idle      int `json:"idle"`
	Stopped   int `json:"stopped"`
	Zombie    int `json:"zombie"`
	Other     int `json:"other"`
	Threads   int `json:"threads"`
}

// ProcessHealth is the processes probe's light result. Its running and
// blocked figures come from system-wide counters, so they count runnable
// and I/O-blocked threads, as vmstat does; Top reads each process's CPU
// time, once (see processes_health.go).
type ProcessHealth struct {
	Total   int `json:"total"`
	Threads int `json:"threads,omitempty"`
	Running int `json:"running,omitempty"`
	Blocked int `json:"blocked,omitempty"`
	// Top is the busiest process (see ProcessTop); absent where the
	// platform gives no per-process figures (macOS) or lists none, and on
	// Linux when the whole machine was quiet since the last listing (see
	// quietCores): no process was busy then.
	Top *ProcessTop `json:"top,omitempty"`
}

// ProcessInfo is one process in a top list. CPUPercent is of one CPU, as
// top shows it, over the time since the previous call (or since the
// process started, on the first).
type ProcessInfo struct {
	PID  int32  `json:"pid"`
	PPID int32  `json:"ppid"`
	Name string `json:"name"`
	User string `json:"user,omitempty"`
	// Started is when the process started, in Unix seconds.
	Started       int64   `json:"started,omitempty"`
	State         string  `json:"state"`
	CPUPercent    float64 `json:"cpu_percent"`
	RSSBytes      uint64  `json:"rss_bytes"`
	MemoryPercent float64 `json:"memory_percent"`
	Threads       int     `json:"threads"`
	// Exe is the path of the program's file: empty for kernel threads, and
	// where it cannot be read (another user's process, without privilege).
	Exe string `json:"exe,omitempty"`
	// Cmdline is the command line, its arguments joined by spaces (quoted
	// when they hold blanks or quotes), scrubbed of secrets on this
	// machine, at most maxCmdline bytes; CmdlineTruncated says it was cut.
	Cmdline          string `json:"cmdline,omitempty"`
	CmdlineTruncated bool   `json:"cmdline_truncated,omitempty"`
}

// NamedProcesses is the processes found under one name asked for, by CPU,
// at most maxNamedMatches of them; Omitted counts the rest.
type NamedProcesses struct {
	Name      string        `json:"name"`
	Processes []ProcessInfo `json:"processes"`
	Omitted   int           `json:"omitted,omitempty"`
}

func (p *processesProbe) Name() string { return "processes" }

func (p *processesProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		return p.health(ctx, env)
	}
	p.uidNames = nil
	snap, err := p.sample(ctx)
	if err != nil {
		return nil, err
	}
	p.rates(snap)
	r := &ProcessesResult{}
	for i := range p.samples {
		r.Counts.add(&p.samples[i])
	}

	// Only the processes shown are read further, each once per call.
	shown := make(map[int32]procDetail, 2*p.topN)
	info := func(s *procSample) ProcessInfo {
		d, ok := shown[s.pid]
		if !ok {
			d = p.detail(ctx, env, s)
			shown[s.pid] = d
		}
		mp := 0.0
		if snap.memTotal > 0 {
			mp = hundredths(float64(s.rss) / float64(snap.memTotal) * 100)
		}
		pi := ProcessInfo{PID: s.pid, PPID: d.ppid, Name: s.name, User: d.user, State: s.state, CPUPercent: s.cpuPercent,
			RSSBytes: s.rss, MemoryPercent: mp, Threads: s.threads, Exe: d.exe, Cmdline: d.cmdline, CmdlineTruncated: d.cut}
		if snap.epoch >= 0 {
			pi.Started = int64(snap.epoch + s.started)
		}
		return pi
	}
	r.TopCPU = p.top(byCPU, info)
	r.TopMemory = p.top(func(a, b *procSample) bool { return a.rss > b.rss }, info)
	if len(env.Processes) > 0 {
		r.Named, r.NotFound = p.named(ctx, env.Processes, info)
	}
	p.keepDetails(shown)
	return r, nil
}

// rates sets each sample's CPU use over its window: since the previous
// call, or since the process started where it is newer than that call (and
// at the first call). It keeps the CPU times for the next call, which the
// full and the health variant share: the window is since whichever ran
// last, as the cpu probe's usage is.
func (p *processesProbe) rates(snap procSnapshot) {
	if p.next == nil {
		p.next = make(map[int32]procPrev, len(p.samples))
	}
	clear(p.next)
	for i := range p.samples {
		s := &p.samples[i]
		base, since := 0.0, s.started
		if prev, ok := p.prev[s.pid]; ok && prev.started == s.started && p.prevClock > 0 {
			base, since = prev.cpu, p.prevClock
		}
		if span := snap.clock - since; span > 0 && s.cpu >= base {
			s.cpuPercent = hundredths((s.cpu - base) / span * 100)
			s.window = span
		}
		p.next[s.pid] = procPrev{cpu: s.cpu, started: s.started, name: s.name}
	}
	p.prev, p.next = p.next, p.prev
	p.prevClock, p.prevIdle = snap.clock, snap.idle
}

// byCPU orders processes by CPU use.
func byCPU(a, b *procSample) bool { return a.cpuPercent > b.cpuPercent }

// top returns the topN samples by more, ties broken by PID for stable
// output.
func (p *processesProbe) top(more func(a, b *procSample) bool, info func(*procSample) ProcessInfo) []ProcessInfo {
	idx := make([]int, len(p.samples))
	for i := range idx {
		idx[i] = i
	}
	return p.ranked(idx, more, p.topN, info)
}

// ranked returns the first n of the samples at idx by more, ties broken
// by PID for stable output.
func (p *processesProbe) ranked(idx []int, more func(a, b *procSample) bool, n int, info func(*procSample) ProcessInfo) []ProcessInfo {
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &p.samples[i], &p.samples[j]
		switch {
		case more(a, b):
			return -1
		case more(b, a):
			return 1
		}
		return int(a.pid - b.pid)
	})
	out := make([]ProcessInfo, 0, min(n, len(idx)))
	for _, i := range idx[:min(n, len(idx))] {
		out = append(out, info(&p.samples[i]))
	}
	return out
}

// add counts s.
func (c *ProcessCounts) add(s *procSample) {
	c.Total++
	c.Threads += s.threads
	switch s.state {
	case "running":
		c.Running++
	case "sleeping":
		c.Sleeping++
	case "disk-sleep":
		c.DiskSleep++
	case "idle":
		c.Idle++
	case "stopped":
		c.Stopped++
	case "zombie":
		c.Zombie++
	default:
		c.Other++
	}
}

package probe

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kinds of kernel events, indexes of logsRun.kernel.
const (
	kernelOOM = iota
	kernelIO
	kernelSegfault
	kernelGPU
)

// oomPairWindow is how close in time the two lines the kernel prints for
// one OOM kill ("oom-kill:..." and "Killed process ...") are taken to be
// the same kill.
const oomPairWindow = 30 * time.Second

type kernelEvent struct {
	time time.Time
	KernelEvent
}

// kernelList holds events of one kind: all are counted, the newest kept.
type kernelList struct {
	count  int
	events []kernelEvent
}

func (l *kernelList) add(e kernelEvent, keep int) {
	l.count++
	l.events = append(l.events, e)
	if len(l.events) > 4*keep+16 {
		l.sort()
		l.events = l.events[:keep]
	}
}

func (l *kernelList) sort() {
	sort.SliceStable(l.events, func(i, j int) bool { return l.events[i].time.After(l.events[j].time) })
}

// newest returns the keep newest events, formatted, and the count of all.
func (l *kernelList) newest(keep int) ([]KernelEvent, int) {
	l.sort()
	out := []KernelEvent{}
	for i, e := range l.events {
		if i >= keep {
			break
		}
		e.KernelEvent.Time = fmtTime(e.time)
		out = append(out, e.KernelEvent)
	}
	return out, l.count
}

// kernelEvent recognises the kernel messages findings count: OOM kills,
// block I/O errors, segfaults and GPU resets or hangs. It reads the
// message before scrubbing but keeps only names from it (process, device,
// driver), and a GPU event's message, which result scrubs.
func (r *logsRun) kernelEvent(e logEntry) {
	msg := e.message
	ev := kernelEvent{time: e.time}
	switch {
	case strings.Contains(msg, "Killed process "):
		// "Out of memory: Killed process 1234 (firefox) total-vm:..."
		// (also "Memory cgroup out of memory: ...").
		rest := msg[strings.Index(msg, "Killed process ")+len("Killed process "):]
		ev.PID, rest = leadingInt(rest)
		if strings.HasPrefix(rest, " (") {
			if end := strings.IndexByte(rest, ')'); end > 2 {
				ev.Process = cleanName(rest[2:end])
			}
		}
		r.oomKill(ev)
	case strings.Contains(msg, "oom-kill:"):
		// "oom-kill:constraint=...,task_memcg=/...,task=firefox,pid=1234,uid=1000"
		ev.Process = cleanName(commaField(msg, ",task=", ""))
		ev.PID, _ = leadingInt(commaField(msg, ",pid=", ""))
		r.oomKill(ev)
	case strings.Contains(msg, "Buffer I/O error on dev "):
		ev.Device = cleanName(commaField(msg, "Buffer I/O error on dev ", " "))
		r.kernel[kernelIO].add(ev, r.limits.Events)
	case strings.Contains(msg, " error, dev ") || strings.HasPrefix(msg, "I/O error, dev "):
		// "I/O error, dev sda, sector 2048 op 0x0:(READ) ..." and the
		// block layer's other errors ("critical medium error, dev ...").
		ev.Device = cleanName(commaField(msg, "error, dev ", " "))
		r.kernel[kernelIO].add(ev, r.limits.Events)
	case strings.Contains(msg, "]: segfault at "):
		// "firefox[1234]: segfault at 0 ip ... error 4 in libxul.so[...]"
		head := msg[:strings.Index(msg, "]: segfault at ")]
		if open := strings.LastIndexByte(head, '['); open >= 0 {
			ev.Process = cleanName(head[:open])
			ev.PID, _ = leadingInt(head[open+1:])
		}
		r.kernel[kernelSegfault].add(ev, r.limits.Events)
	default:
		if ev.Driver = gpuDriver(msg); ev.Driver != "" {
			// Scrubbed when listed: a flood of resets costs no scrubbing.
			ev.Detail, _ = cleanMessage(msg)
			ev.Detail, _ = cutWords(ev.Detail, maxRawExample, false)
			r.kernel[kernelGPU].add(ev, r.limits.Events)
		}
	}
}

// gpuDriver names the driver of a GPU reset or hang message, or "".
func gpuDriver(msg string) string {
	switch {
	case strings.Contains(msg, "GPU reset begin"):
		return "amdgpu" // "amdgpu 0000:03:00.0: amdgpu: GPU reset begin!"
	case strings.Contains(msg, "GPU HANG"):
		return "i915" // "i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:..."
	case strings.Contains(msg, "NVRM: Xid"):
		return "nvidia" // "NVRM: Xid (PCI:0000:01:00): 79, pid=..., GPU has fallen off the bus."
	}
	return ""
}

// oomKill counts an OOM kill once, though the kernel reports it in two
// lines that each name the victim.
func (r *logsRun) oomKill(ev kernelEvent) {
	l := &r.kernel[kernelOOM]
	for i := len(l.events) - 1; i >= 0 && i >= len(l.events)-4; i-- {
		prev := &l.events[i]
		d := prev.time.Sub(ev.time)
		if ev.PID != 0 && prev.PID == ev.PID && d <= oomPairWindow && d >= -oomPairWindow {
			prev.Process = cmpOr(prev.Process, ev.Process)
			return
		}
	}
	l.add(ev, r.limits.Events)
}

// commaField returns what follows key in s, up to a comma (or stop).
func commaField(s, key, stop string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	if end := strings.IndexAny(s, ","+stop); end >= 0 {
		s = s[:end]
	}
	return s
}

// leadingInt parses the decimal number s starts with, and returns the
// rest; 0 when there is none or it is out of range.
func leadingInt(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n > 1<<31 {
		n = 0
	}
	return n, s[i:]
}

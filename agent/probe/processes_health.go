package probe

import "context"

// This file holds what the processes probe's health variant says of the
// busiest process. The health variant lists every process as the full one
// does (processes_linux.go reads one /proc/<pid>/stat each) and shares its
// CPU accounting (rates); of the busiest it reads only the command line,
// scrubbed again only when it changed (refresh; keepTop). A process holding one
// core on a machine of eight is 12.5% of the machine, which no machine-wide
// figure notices; this one does.

// maxTopCmdline bounds the busiest process's command line in a health
// result: health samples are sent and stored every minute, and a command
// line longer than this names its program in its first bytes.
const maxTopCmdline = 256

// ProcessTop is the busiest process over its window: since the previous
// call, or since it started where that is later (and at the first call).
type ProcessTop struct {
	PID  int32  `json:"pid"`
	Name string `json:"name"`
	// CPUPercent is of one CPU, as top shows it: 100 is one core held for
	// the whole window, 800 eight cores.
	CPUPercent float64 `json:"cpu_percent"`
	// WindowSeconds is the time CPUPercent is over.
	WindowSeconds float64 `json:"window_seconds"`
	// Started is when the process started, in Unix seconds.
	Started int64 `json:"started,omitempty"`
	// Cmdline is scrubbed of secrets on this machine and at most
	// maxTopCmdline bytes; CmdlineTruncated says it was cut.
	Cmdline          string `json:"cmdline,omitempty"`
	CmdlineTruncated bool   `json:"cmdline_truncated,omitempty"`
}

// busiest sets the samples' CPU rates (see rates) and returns the sample
// that used the most CPU, the lowest PID among equals, or nil when there
// is none.
func (p *processesProbe) busiest(snap procSnapshot) *procSample {
	p.rates(snap)
	var top *procSample
	for i := range p.samples {
		s := &p.samples[i]
		if top == nil || byCPU(s, top) || (!byCPU(top, s) && s.pid < top.pid) {
			top = s
		}
	}
	return top
}

// maxTopDetails bounds the processes whose command lines the health
// variant keeps between calls: the busiest process changes from one call
// to the next among a few (a build, the agent itself, a browser), and one
// back on top with the same command line is not scrubbed again (see
// refresh), which would cost more than the rest of the call.
const maxTopDetails = 8

// topOf describes s, the busiest process, for a health result.
func (p *processesProbe) topOf(ctx context.Context, env *Env, snap procSnapshot, s *procSample) *ProcessTop {
	d, known := p.topDetails[s.pid]
	d = p.refresh(ctx, env, s, d, known, false)
	p.keepTop(s.pid, d)
	name, _ := bound(s.name, maxExe, false)
	t := &ProcessTop{PID: s.pid, Name: name, CPUPercent: s.cpuPercent, WindowSeconds: hundredths(s.window)}
	t.Cmdline, t.CmdlineTruncated = bound(d.cmdline, maxTopCmdline, d.cut)
	if snap.epoch >= 0 {
		t.Started = int64(snap.epoch + s.started)
	}
	return t
}

// keepTop keeps d, what was read of process pid, the busiest at this
// health call, beside what was read of the busiest at earlier calls that
// still live (listed at this call, same start and name), the most recent
// first, up to maxTopDetails.
func (p *processesProbe) keepTop(pid int32, d procDetail) {
	p.healthCalls++
	d.shown = p.healthCalls
	if p.topDetails == nil {
		p.topDetails = make(map[int32]procDetail, maxTopDetails+1)
	}
	p.topDetails[pid] = d
	for old, od := range p.topDetails {
		if prev, ok := p.prev[old]; !ok || prev.started != od.started || prev.name != od.name {
			delete(p.topDetails, old)
		}
	}
	for len(p.topDetails) > maxTopDetails {
		oldest := pid
		for old, od := range p.topDetails {
			if od.shown < p.topDetails[oldest].shown {
				oldest = old
			}
		}
		delete(p.topDetails, oldest)
	}
}

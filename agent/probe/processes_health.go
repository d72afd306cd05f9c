package probe

import "context"

// This file holds what the processes probe's health variant says of the
// busiest process. The health variant lists every process as the full one
// does (processes_linux.go reads one /proc/<pid>/stat each) and shares its
// CPU accounting (rates); of the busiest it reads only the command line,
// scrubbed again only when it changed (refresh). A process holding one
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

// topOf describes s, the busiest process, for a health result.
func (p *processesProbe) topOf(ctx context.Context, env *Env, snap procSnapshot, s *procSample) *ProcessTop {
	p.topDetail = p.refresh(ctx, env, s, p.topDetail, true, false)
	name, _ := bound(s.name, maxExe, false)
	t := &ProcessTop{PID: s.pid, Name: name, CPUPercent: s.cpuPercent, WindowSeconds: hundredths(s.window)}
	t.Cmdline, t.CmdlineTruncated = bound(p.topDetail.cmdline, maxTopCmdline, p.topDetail.cut)
	if snap.epoch >= 0 {
		t.Started = int64(snap.epoch + s.started)
	}
	return t
}

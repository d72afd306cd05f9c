package diff

import (
	"strings"
	"time"
)

// processesData is what the diff reads of the processes probe's full
// result; its health result only counts processes.
type processesData struct {
	TopCPU    *[]process `json:"top_cpu"`
	TopMemory *[]process `json:"top_memory"`
}

type process struct {
	PID     int32  `json:"pid"`
	PPID    int32  `json:"ppid"`
	Name    string `json:"name"`
	Cmdline string `json:"cmdline"`
	Exe     string `json:"exe"`
	Started int64  `json:"started"` // Unix seconds
}

// shortLived is the age under which a process in a top list is passing
// through (a compiler, a cron job's child), not a change of the machine.
const shortLived = time.Minute

// kernelThreadPrefixes name Linux kernel threads in snapshots that predate
// the parent PID (a kernel thread's parent is kthreadd, PID 2).
var kernelThreadPrefixes = []string{"kworker/", "ksoftirqd/", "migration/", "rcu_", "cpuhp/", "idle_inject/", "kswapd", "kcompactd", "khugepaged", "kthreadd", "irq/", "jbd2/", "watchdog/"}

// kernelThread says whether p is a kernel thread: its parent is kthreadd
// or it is kthreadd, or, without a command line or executable, its name is
// a kernel thread's.
func (p process) kernelThread() bool {
	if p.PID == 2 || p.PPID == 2 {
		return true
	}
	if p.Cmdline != "" || p.Exe != "" {
		return false
	}
	for _, k := range kernelThreadPrefixes {
		if strings.HasPrefix(p.Name, k) {
			return true
		}
	}
	return false
}

// compareProcesses tells which processes of note, those in the top lists
// by CPU and by memory, appeared or disappeared, by name. A process that
// left the lists may still run, only more quietly. Kernel threads and
// processes younger than a minute at their snapshot are no change of the
// machine's and are left out.
func compareProcesses(s *Section, p pair) {
	var a, b processesData
	if !load(s, p, "processes", &a, &b) {
		return
	}
	if !a.full() || !b.full() {
		s.note("not comparable: only full snapshots list the top processes")
		return
	}
	s.members("top process", a.names(p.from.CapturedAt), b.names(p.to.CapturedAt), true, true)
}

func (d *processesData) full() bool { return d.TopCPU != nil || d.TopMemory != nil }

// names returns the names of the top processes of a snapshot taken at
// captured, but kernel threads and short-lived ones.
func (d *processesData) names(captured time.Time) []string {
	var names []string
	for _, list := range []*[]process{d.TopCPU, d.TopMemory} {
		if list == nil {
			continue
		}
		for _, p := range *list {
			young := p.Started > 0 && !captured.IsZero() && captured.Sub(time.Unix(p.Started, 0)) < shortLived
			if !p.kernelThread() && !young {
				names = append(names, p.Name)
			}
		}
	}
	return names
}

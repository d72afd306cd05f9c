package findings

import (
	"encoding/json"
	"fmt"
)

func init() {
	register("processes", []string{"process.cpu-hog", "process.runaway"}, analyzeProcesses)
}

// procEntry is one process as the processes probe names it: an entry of
// the full variant's top_cpu, or the health variant's top.
type procEntry struct {
	PID        int64   `json:"pid"`
	Name       string  `json:"name"`
	User       string  `json:"user"`
	CPUPercent float64 `json:"cpu_percent"`
	// WindowSeconds is the time CPUPercent is over: the health variant's
	// top says it, the full variant's entries do not (0).
	WindowSeconds float64 `json:"window_seconds"`
	// Cmdline is scrubbed on the agent; Started is Unix seconds.
	Cmdline string `json:"cmdline"`
	Exe     string `json:"exe"`
	Started int64  `json:"started"`
}

// processesData is what the processes analyzer reads of the processes
// probe: the busiest processes, busiest first (full variant), or the
// busiest one (health variant).
type processesData struct {
	TopCPU []procEntry `json:"top_cpu"`
	Top    *procEntry  `json:"top"`
}

// busiest returns the busiest process d names, the first listed among
// equals, or false. The list is sorted by the probe, but it is untrusted.
func (d *processesData) busiest() (procEntry, bool) {
	all := d.TopCPU
	if d.Top != nil {
		all = append(all[:len(all):len(all)], *d.Top)
	}
	if len(all) == 0 {
		return procEntry{}, false
	}
	top := all[0]
	for _, p := range all[1:] {
		if p.CPUPercent > top.CPUPercent {
			top = p
		}
	}
	return top, true
}

// find returns d's entry for the process p, or false.
func (d *processesData) find(p procEntry) (procEntry, bool) {
	if d.Top != nil && p.same(*d.Top) {
		return *d.Top, true
	}
	for _, e := range d.TopCPU {
		if p.same(e) {
			return e, true
		}
	}
	return procEntry{}, false
}

// same reports whether p and e are one process: the same PID and start
// time, or the same PID and name where a start time is unknown.
func (p procEntry) same(e procEntry) bool {
	if p.PID != e.PID {
		return false
	}
	if p.Started > 0 && e.Started > 0 {
		return p.Started == e.Started
	}
	return p.Name == e.Name
}

// cpuData is what the processes analyzer reads of the cpu probe: the core
// count and the machine's use, an object in the full variant and a number
// in the health one.
type cpuData struct {
	LogicalCores int             `json:"logical_cores"`
	Usage        json.RawMessage `json:"usage_percent"`
}

// usage returns the machine's CPU use in percent of all CPUs, or false.
func (c *cpuData) usage() (float64, bool) {
	var full struct {
		Total *float64 `json:"total"`
	}
	if json.Unmarshal(c.Usage, &full) == nil && full.Total != nil {
		return *full.Total, true
	}
	var health float64
	if json.Unmarshal(c.Usage, &health) == nil {
		return health, true
	}
	return 0, false
}

func analyzeProcesses(in *input) []Finding {
	var d processesData
	if !probe(in.doc, "processes", &d) {
		return nil
	}
	top, ok := d.busiest()
	if !ok {
		return nil
	}
	var c cpuData
	cpuOK := probe(in.doc, "cpu", &c)
	cores := c.LogicalCores
	if cores <= 0 && in.doc.Facts != nil {
		cores = in.doc.Facts.CPUs
	}
	if cores <= 0 {
		return nil
	}
	// A runaway says more than a hog, of the same process: never both.
	if f, ok := runaway(in, top, cores); ok {
		return []Finding{f}
	}
	if u, ok := c.usage(); cpuOK && ok {
		return cpuHog(top, cores, &u)
	}
	return cpuHog(top, cores, nil)
}

// cpuHog returns process.cpu-hog when top takes most of the CPU time used
// on the machine (of its capacity when its use, in percent of all CPUs, is
// unknown).
func cpuHog(top procEntry, cores int, usage *float64) []Finding {
	if top.CPUPercent < CPUHogPercent {
		return nil
	}
	// The CPU time used on the machine, in percent of one CPU.
	used := float64(cores) * 100
	ev := map[string]any{"pid": top.PID, "name": clip(top.Name), "cpu_percent": top.CPUPercent, "cpus": cores}
	if usage != nil {
		used = max(*usage*float64(cores), top.CPUPercent)
		ev["machine_usage_percent"] = *usage
	}
	if top.CPUPercent < CPUHogShare*used {
		return nil
	}
	title := fmt.Sprintf("The program %s is using most of the processor's time", top.named())
	return []Finding{{ID: "process.cpu-hog", Severity: Warning, Subject: clip(top.Name), Evidence: top.evidence(ev), Title: title}}
}

// named names the process for a title: its name and PID, and its command
// line, which names the culprit where the program's name does not (every
// shell script is "bash").
func (p procEntry) named() string {
	if p.Cmdline != "" {
		return fmt.Sprintf("%s (process %d, %s)", clip(p.Name), p.PID, clipTo(p.Cmdline, maxTitleCmdline))
	}
	return fmt.Sprintf("%s (process %d)", clip(p.Name), p.PID)
}

// evidence adds what names the process to ev: user, command line,
// executable and start time, where known.
func (p procEntry) evidence(ev map[string]any) map[string]any {
	if p.User != "" {
		ev["user"] = clip(p.User)
	}
	if p.Cmdline != "" {
		ev["cmdline"] = clip(p.Cmdline)
	}
	if p.Exe != "" {
		ev["exe"] = clip(p.Exe)
	}
	if p.Started > 0 {
		ev["started"] = p.Started
	}
	return ev
}

// maxTitleCmdline bounds the command line quoted in a title; the evidence
// holds it whole (to maxTextLen).
const maxTitleCmdline = 80

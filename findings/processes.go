package findings

import (
	"encoding/json"
	"fmt"
)

func init() {
	register("processes", []string{"process.cpu-hog"}, analyzeProcesses)
}

// processesData is what the processes analyzer reads of the processes
// probe's full variant: the busiest processes, busiest first.
type processesData struct {
	TopCPU []struct {
		PID        int64   `json:"pid"`
		Name       string  `json:"name"`
		User       string  `json:"user"`
		CPUPercent float64 `json:"cpu_percent"`
		// Cmdline is scrubbed on the agent; Started is Unix seconds.
		Cmdline string `json:"cmdline"`
		Exe     string `json:"exe"`
		Started int64  `json:"started"`
	} `json:"top_cpu"`
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
	if !probe(in.doc, "processes", &d) || len(d.TopCPU) == 0 {
		return nil
	}
	// The list is sorted by the probe, but it is untrusted: find the top.
	top := d.TopCPU[0]
	for _, p := range d.TopCPU[1:] {
		if p.CPUPercent > top.CPUPercent {
			top = p
		}
	}
	if top.CPUPercent < CPUHogPercent {
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
	// The CPU time used on the machine, in percent of one CPU; the
	// machine's capacity when its use is unknown.
	used := float64(cores) * 100
	ev := map[string]any{"pid": top.PID, "name": clip(top.Name), "cpu_percent": top.CPUPercent, "cpus": cores}
	if u, ok := c.usage(); cpuOK && ok {
		used = max(u*float64(cores), top.CPUPercent)
		ev["machine_usage_percent"] = u
	}
	if top.CPUPercent < CPUHogShare*used {
		return nil
	}
	if top.User != "" {
		ev["user"] = clip(top.User)
	}
	name := clip(top.Name)
	title := fmt.Sprintf("The program %s (process %d) is using most of the processor's time", name, top.PID)
	if top.Cmdline != "" {
		// The command line names the culprit where the program's name
		// does not: every shell script is "bash".
		ev["cmdline"] = clip(top.Cmdline)
		title = fmt.Sprintf("The program %s (process %d, %s) is using most of the processor's time", name, top.PID, clipTo(top.Cmdline, maxTitleCmdline))
	}
	if top.Exe != "" {
		ev["exe"] = clip(top.Exe)
	}
	if top.Started > 0 {
		ev["started"] = top.Started
	}
	return []Finding{{ID: "process.cpu-hog", Severity: Warning, Subject: name, Evidence: ev, Title: title}}
}

// maxTitleCmdline bounds the command line quoted in a title; the evidence
// holds it whole (to maxTextLen).
const maxTitleCmdline = 80

package findings

import (
	"fmt"
	"slices"
	"strings"
)

func init() {
	register("logs", []string{"logs.oom-kills", "logs.disk-io-errors", "logs.crash-loop", "logs.crashed", "logs.gpu-resets"}, analyzeLogs)
}

// logsData is what the logs analyzer reads of the logs probe: the kernel
// events it counted and the crashes it found, within its window (a day).
type logsData struct {
	Kernel struct {
		OOMKills  []logEvent `json:"oom_kills"`
		IOErrors  []logEvent `json:"io_errors"`
		GPUResets []logEvent `json:"gpu_resets"`
		Counts    struct {
			OOMKills  int `json:"oom_kills"`
			IOErrors  int `json:"io_errors"`
			GPUResets int `json:"gpu_resets"`
		} `json:"counts"`
	} `json:"kernel"`
	Crashes []struct {
		Kind    string `json:"kind"`
		Program string `json:"program"`
		Time    string `json:"time"`
	} `json:"crashes"`
}

type logEvent struct {
	Time    string `json:"time"`
	Process string `json:"process"`
	Device  string `json:"device"`
	Driver  string `json:"driver"`
}

// maxNamed bounds the names (programs, devices) a finding lists.
const maxNamed = 5

func analyzeLogs(in *input) []Finding {
	var d logsData
	if !probe(in.doc, "logs", &d) {
		return nil
	}
	var out []Finding
	k := d.Kernel
	if n := max(k.Counts.OOMKills, len(k.OOMKills)); n > 0 {
		victims := distinct(k.OOMKills, func(e logEvent) string { return e.Process })
		sev := Warning
		if n >= OOMKillsCritical {
			sev = Critical
		}
		out = append(out, Finding{ID: "logs.oom-kills", Severity: sev,
			Title:    fmt.Sprintf("The computer ran out of memory and killed %s in the last day%s", plural(n, "program"), named(victims)),
			Evidence: map[string]any{"oom_kills": n, "victims": victims}})
	}
	if n := max(k.Counts.IOErrors, len(k.IOErrors)); n > 0 {
		devices := distinct(k.IOErrors, func(e logEvent) string { return e.Device })
		out = append(out, Finding{ID: "logs.disk-io-errors", Severity: Critical, Subject: strings.Join(devices, ", "),
			Title:    fmt.Sprintf("The kernel logged %s reading or writing a disk in the last day%s", plural(n, "I/O error"), named(devices)),
			Evidence: map[string]any{"io_errors": n, "devices": devices}})
	}
	if n := max(k.Counts.GPUResets, len(k.GPUResets)); n > 0 {
		drivers := distinct(k.GPUResets, func(e logEvent) string { return e.Driver })
		out = append(out, Finding{ID: "logs.gpu-resets", Severity: Warning,
			Title:    fmt.Sprintf("The graphics chip hung or was reset %s in the last day%s", plural(n, "time"), named(drivers)),
			Evidence: map[string]any{"gpu_resets": n, "drivers": drivers}})
	}
	// Crashes by program: a program that keeps crashing is a crash loop.
	counts := map[string]int{}
	for _, c := range d.Crashes {
		if c.Program != "" && (c.Kind == "crash" || c.Kind == "hang") {
			counts[clip(c.Program)]++
		}
	}
	programs := make([]string, 0, len(counts))
	for p := range counts {
		programs = append(programs, p)
	}
	slices.Sort(programs)
	for _, p := range programs {
		n := counts[p]
		f := Finding{ID: "logs.crashed", Severity: Info, Subject: p, Evidence: map[string]any{"crashes": n},
			Title: fmt.Sprintf("%s crashed %s in the last day", p, plural(n, "time"))}
		if n >= CrashLoopFailures {
			f.ID, f.Severity = "logs.crash-loop", Warning
			f.Title = fmt.Sprintf("%s keeps crashing: %s in the last day", p, plural(n, "time"))
		}
		out = append(out, f)
	}
	return out
}

// distinct returns the distinct non-empty names of events, in order, at
// most maxNamed, each clipped.
func distinct(events []logEvent, name func(logEvent) string) []string {
	out := []string{}
	for _, e := range events {
		if n := clip(name(e)); n != "" && !slices.Contains(out, n) && len(out) < maxNamed {
			out = append(out, n)
		}
	}
	return out
}

func named(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

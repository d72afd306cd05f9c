package probe

import (
	"context"
	"errors"
	"runtime"
	"time"
)

func init() {
	Register("logs", Spec{Heavy: true, Platforms: Everywhere}, func() Probe {
		return &logsProbe{now: time.Now, loc: time.Local, goos: runtime.GOOS, tool: runTool, limits: defaultLogsLimits}
	})
}

// logsWindow is how far back the logs probe looks: "it keeps crashing"
// is about the last day.
const logsWindow = 24 * time.Hour

// logsProbe answers "it keeps crashing": recent warnings and errors of the
// machine's logs grouped by what emitted them, the kernel's well-known
// troubles (OOM kills, I/O errors, segfaults, GPU resets) and crash
// reports. It is heavy: it runs only when named (a bundle names it), never
// in a health snapshot. Every message passes Env.Scrub before it is kept.
type logsProbe struct {
	now func() time.Time
	// loc is the zone of times the host writes without one (apport's
	// Date, macOS report names).
	loc *time.Location
	// goos chooses the sources; tests read Windows and macOS fixtures on
	// Linux through it.
	goos string
	// tool runs a platform tool: runTool, or a test's recorded output.
	tool   func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)
	limits logsLimits
}

// logsLimits bounds what the logs probe reads and reports.
type logsLimits struct {
	ToolBytes int // output read from one run of journalctl, wevtutil or log
	KmsgBytes int // bytes read from /dev/kmsg
	Files     int // directory entries examined per crash folder
	Groups    int // groups reported
	Events    int // kernel events listed per kind (all are counted)
	Crashes   int // crash reports listed (all are counted)
	Message   int // bytes of an example message, after scrubbing
}

var defaultLogsLimits = logsLimits{
	ToolBytes: 4 << 20,
	KmsgBytes: 8 << 20,
	Files:     4096,
	Groups:    100,
	Events:    20,
	Crashes:   50,
	Message:   512,
}

// LogsResult is the logs probe's result. Times are RFC 3339 in UTC.
// Findings read it: the names below are stable.
type LogsResult struct {
	// Window is the span looked at: the last 24 hours.
	Window LogsWindow `json:"window"`
	// Sources says, for each log read on this platform, whether it could
	// be read ("ok", "not_available", "error") and how much of it was.
	Sources []LogSource `json:"sources"`
	// Groups are the warnings and errors, one per emitter and message
	// signature, most frequent first (then most recent).
	Groups []LogGroup `json:"groups"`
	// GroupsOmitted counts groups beyond the limit, and EntriesOmitted the
	// entries in them (or in none, once the table of groups was full).
	GroupsOmitted  int `json:"groups_omitted"`
	EntriesOmitted int `json:"entries_omitted"`
	// Kernel counts the kernel's well-known troubles in the window.
	Kernel LogsKernel `json:"kernel"`
	// Crashes are crash reports (core dumps, apport, Windows Error
	// Reporting, macOS diagnostic reports), newest first; CrashCount
	// counts all of them in the window, listed or not.
	Crashes    []LogCrash `json:"crashes"`
	CrashCount int        `json:"crash_count"`
	// Truncated is true when any limit cut something: a source's input,
	// groups, events, crashes or an example message.
	Truncated bool `json:"truncated"`
}

// LogsWindow is the span of time the probe looked at.
type LogsWindow struct {
	Since string `json:"since"`
	Until string `json:"until"`
}

// LogSource is one log and how reading it went.
type LogSource struct {
	// Name is "kmsg", "journal", "coredump", "apport" (Linux),
	// "eventlog-system", "eventlog-application" (Windows),
	// "unified-log", "diagnostic-reports" (macOS).
	Name string `json:"name"`
	// Status is "ok", "not_available" (this machine has no such log) or
	// "error" (see Error).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// EntriesRead counts the records, events or files examined;
	// EntriesKept those kept: warnings and worse of the window (a log),
	// reports of the window (a folder of crash reports).
	EntriesRead int `json:"entries_read"`
	EntriesKept int `json:"entries_kept"`
	// Truncated is true when a limit stopped reading this log early.
	Truncated bool `json:"truncated"`
}

// LogGroup is a set of similar messages from one emitter.
type LogGroup struct {
	// Log is the source it was read from (a LogSource name).
	Log string `json:"log"`
	// Source is what emitted it: a systemd unit or syslog identifier,
	// "kernel", a Windows event provider, a macOS process.
	Source string `json:"source"`
	// Signature is the scrubbed message with numbers, hex, addresses and
	// PIDs replaced by "#"; Windows events start with "event <id>: ".
	Signature string `json:"signature"`
	// Level is the worst level seen: "critical", "error" or "warning".
	Level     string `json:"level"`
	Count     int    `json:"count"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	// Example is the most recent message of the group, scrubbed, at most
	// 512 bytes; ExampleCut says it was shortened.
	Example    string `json:"example"`
	ExampleCut bool   `json:"example_cut,omitempty"`
}

// LogsKernel holds the kernel events findings look for. Each list holds
// the newest events of its kind; Counts counts all of them.
type LogsKernel struct {
	OOMKills  []KernelEvent `json:"oom_kills"`
	IOErrors  []KernelEvent `json:"io_errors"`
	Segfaults []KernelEvent `json:"segfaults"`
	GPUResets []KernelEvent `json:"gpu_resets"`
	Counts    KernelCounts  `json:"counts"`
}

// KernelCounts counts the kernel events of each kind in the window.
type KernelCounts struct {
	OOMKills  int `json:"oom_kills"`
	IOErrors  int `json:"io_errors"`
	Segfaults int `json:"segfaults"`
	GPUResets int `json:"gpu_resets"`
}

// KernelEvent is one OOM kill (Process is the victim), I/O error (Device),
// segfault (Process) or GPU reset or hang (Driver: "amdgpu", "i915",
// "nvidia"; Detail: the message, scrubbed, at most 200 bytes).
type KernelEvent struct {
	Time    string `json:"time"`
	Process string `json:"process,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Device  string `json:"device,omitempty"`
	Driver  string `json:"driver,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// LogCrash is one crash report. The probe reads names and headers only,
// never a core or a report's body.
type LogCrash struct {
	Time string `json:"time"`
	// Kind is "crash" (a program), "kernel" (oops, panic, bugcheck),
	// "hang", "package" (a failed package installation) or "report".
	Kind string `json:"kind"`
	// Program is the program's name; "kernel" for the kernel's crashes.
	Program string `json:"program"`
	// Executable is the program's path, when the report names it.
	Executable string `json:"executable,omitempty"`
	PID        int    `json:"pid,omitempty"`
	// Signal is the fatal signal (SIGSEGV) or Windows exception code.
	Signal  string `json:"signal,omitempty"`
	Package string `json:"package,omitempty"`
	// File is the report's or core's file name.
	File string `json:"file,omitempty"`
	// Source is the LogSource it came from.
	Source string `json:"source"`
}

// Source statuses.
const (
	statusOK           = "ok"
	statusNotAvailable = "not_available"
	statusError        = "error"
)

// logSource is one log the probe reads on a platform.
type logSource struct {
	name string
	read func(ctx context.Context, r *logsRun, st *LogSource) error
}

func (p *logsProbe) Name() string { return "logs" }

func (p *logsProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		// Heavy probes never run in the health path; the registry keeps
		// them out, and this keeps the tools out should that change.
		return nil, errors.New("logs has no health variant: it runs on demand only")
	}
	sources := p.sources()
	if len(sources) == 0 {
		return nil, notAvailable("no log reader for %s", p.goos)
	}
	r := newLogsRun(env, p.now(), p.limits)
	for _, s := range sources {
		st := LogSource{Name: s.name, Status: statusOK}
		if err := s.read(ctx, r, &st); err != nil {
			st.Status = statusError
			if errors.Is(err, ErrNotAvailable) {
				st.Status = statusNotAvailable
			}
			st.Error = truncateError(err.Error())
		}
		r.sources = append(r.sources, st)
	}
	return r.result(), nil
}

// sources lists the logs of the probe's platform, in reading order: on
// Linux the kernel log comes first, so the journal can leave out the
// kernel messages already read there.
func (p *logsProbe) sources() []logSource {
	switch p.goos {
	case "linux":
		return []logSource{
			{"kmsg", p.readKmsg},
			{"journal", p.readJournal},
			{"coredump", p.readCoredumps},
			{"apport", p.readApport},
		}
	case "windows":
		return []logSource{
			{"eventlog-system", p.eventLog("System")},
			{"eventlog-application", p.eventLog("Application")},
		}
	case "darwin":
		return []logSource{
			{"unified-log", p.readUnified},
			{"diagnostic-reports", p.readDiagnosticReports},
		}
	}
	return nil
}

// runLogTool runs a tool for a source and records whether its output was
// cut. Output that came before a failure is still parsed by the caller.
func (p *logsProbe) runLogTool(ctx context.Context, st *LogSource, name string, args ...string) ([]byte, error) {
	out, truncated, err := p.tool(ctx, p.limits.ToolBytes, name, args...)
	st.Truncated = st.Truncated || truncated
	return out, err // runTool's errors name the tool
}

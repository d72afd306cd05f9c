package probe

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Severities on the syslog scale, which the other platforms' levels are
// mapped to: Windows' critical and macOS faults are sevCritical.
const (
	sevCritical = 2
	sevError    = 3
	sevWarning  = 4
)

// Bounds of the text the probe keeps.
const (
	// maxRawMessage is what of a message is scrubbed; longer messages
	// are cut between words first, so no secret is cut in half and
	// missed by the rules.
	maxRawMessage = 4096
	maxSignature  = 160
	maxName       = 64
	// maxGroupTable bounds the distinct groups held while reading, and
	// maxRawExample the message each holds until it is scrubbed.
	maxGroupTable = 2000
	maxRawExample = 1024
)

// logEntry is one message as a parser hands it over, unscrubbed.
type logEntry struct {
	time     time.Time
	severity int // syslog scale: 0 emergency ... 7 debug
	source   string
	message  string
	// kernel marks messages from the kernel, which are checked for OOM
	// kills, I/O errors, segfaults and GPU resets.
	kernel bool
	// tag starts the signature as it is (a Windows event ID).
	tag string
}

// groupKey names a group. While reading, signature is that of the
// message as read, before scrubbing: a key that never leaves the agent.
type groupKey struct{ log, source, signature string }

// logGroup is a group of entries as read: raw is its latest message, not
// yet scrubbed, held until the result scrubs the examples it lists.
type logGroup struct {
	severity    int
	count       int
	first, last time.Time
	tag         string
	raw         string
	cut         bool
}

// crashRecord is a crash report with its time still a time.
type crashRecord struct {
	time time.Time
	LogCrash
}

// logsRun gathers what one run of the logs probe read, bounded, and turns
// it into a LogsResult.
type logsRun struct {
	env        *Env
	now, since time.Time
	limits     logsLimits
	sources    []LogSource
	groups     map[groupKey]*logGroup
	overflow   int // entries left ungrouped: the table was full
	kernel     [4]kernelList
	crashes    []crashRecord
	crashFiles map[string]int // index in crashes, by file name

	// bootID and kmsgSince say what the kernel log covered (this boot,
	// from kmsgSince), so the journal skips the kernel messages read
	// there already.
	bootID    string
	kmsgSince time.Time
}

func newLogsRun(env *Env, now time.Time, limits logsLimits) *logsRun {
	return &logsRun{
		env: env, now: now, since: now.Add(-logsWindow), limits: limits,
		groups: map[groupKey]*logGroup{}, crashFiles: map[string]int{},
	}
}

// inWindow reports whether t is recent enough to keep. Entries stamped
// after now (a clock set back) are kept.
func (r *logsRun) inWindow(t time.Time) bool { return !t.Before(r.since) }

// entry takes one entry of the log st: kernel events of the window are
// counted, and warnings and worse of the window grouped.
func (r *logsRun) entry(st *LogSource, e logEntry) {
	if !r.inWindow(e.time) {
		return
	}
	if e.kernel {
		r.kernelEvent(e)
	}
	if e.severity < 0 || e.severity > sevWarning {
		return
	}
	st.EntriesKept++
	msg, cut := cleanMessage(e.message)
	key := groupKey{st.Name, cleanName(e.source), e.tag + signature(msg)}
	if key.source == "" {
		key.source = "unknown"
	}
	g := r.groups[key]
	if g == nil {
		if len(r.groups) >= maxGroupTable {
			r.overflow++
			return
		}
		g = &logGroup{severity: e.severity, first: e.time, last: e.time, tag: e.tag}
		r.groups[key] = g
	}
	g.count++
	g.severity = min(g.severity, e.severity)
	if e.time.Before(g.first) {
		g.first = e.time
	}
	if !e.time.Before(g.last) {
		g.last = e.time
		raw, rawCut := cutWords(msg, maxRawExample, false)
		g.raw, g.cut = raw, cut || rawCut
	}
}

// crash takes a crash report in the window and reports whether it was
// in it. One crash seen twice (a core file and the journal's record of it)
// is kept once, with what both said.
func (r *logsRun) crash(c crashRecord) bool {
	if !r.inWindow(c.time) {
		return false
	}
	c.Program = cleanName(c.Program)
	c.Executable = cleanLogText(c.Executable, 256)
	c.Package = cleanName(c.Package)
	c.File = cleanLogText(c.File, 256)
	c.Signal = cleanName(c.Signal)
	if i, ok := r.crashFiles[c.File]; ok && c.File != "" {
		old := &r.crashes[i]
		old.Executable = cmpOr(old.Executable, c.Executable)
		old.Signal = cmpOr(old.Signal, c.Signal)
		old.Package = cmpOr(old.Package, c.Package)
		if old.PID == 0 {
			old.PID = c.PID
		}
		return true
	}
	if c.File != "" {
		r.crashFiles[c.File] = len(r.crashes)
	}
	r.crashes = append(r.crashes, c)
	return true
}

// crashFile takes a crash report file of the log st.
func (r *logsRun) crashFile(st *LogSource, c crashRecord) {
	if r.crash(c) {
		st.EntriesKept++
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// result orders, bounds and formats what was gathered.
func (r *logsRun) result() *LogsResult {
	res := &LogsResult{
		Window:  LogsWindow{Since: fmtTime(r.since), Until: fmtTime(r.now)},
		Sources: r.sources,
		Groups:  []LogGroup{},
		Crashes: []LogCrash{},
	}
	for _, s := range r.sources {
		res.Truncated = res.Truncated || s.Truncated
	}
	r.listGroups(res)
	lists := [...]*[]KernelEvent{&res.Kernel.OOMKills, &res.Kernel.IOErrors, &res.Kernel.Segfaults, &res.Kernel.GPUResets}
	counts := [...]*int{&res.Kernel.Counts.OOMKills, &res.Kernel.Counts.IOErrors, &res.Kernel.Counts.Segfaults, &res.Kernel.Counts.GPUResets}
	for i := range r.kernel {
		*lists[i], *counts[i] = r.kernel[i].newest(r.limits.Events)
		res.Truncated = res.Truncated || *counts[i] > len(*lists[i])
	}
	for i := range res.Kernel.GPUResets {
		d := &res.Kernel.GPUResets[i].Detail
		*d, _ = cutWords(r.env.Scrub(*d, "logs:kernel"), 200, true)
	}

	sort.SliceStable(r.crashes, func(i, j int) bool {
		if !r.crashes[i].time.Equal(r.crashes[j].time) {
			return r.crashes[i].time.After(r.crashes[j].time)
		}
		return r.crashes[i].File < r.crashes[j].File
	})
	res.CrashCount = len(r.crashes)
	for i, c := range r.crashes {
		if i >= r.limits.Crashes {
			res.Truncated = true
			break
		}
		c.LogCrash.Time = fmtTime(c.time)
		res.Crashes = append(res.Crashes, c.LogCrash)
	}
	return res
}

// listGroups lists the most frequent groups. It scrubs their examples,
// computes their signatures anew from the scrubbed text and merges the
// groups scrubbing makes alike (messages that differed only by a secret).
// Scrubbing is the probe's main cost, so it scrubs the examples of at
// most four groups as read per group listed; the others are counted as
// omitted.
func (r *logsRun) listGroups(res *LogsResult) {
	all := make([]*keyedGroup, 0, len(r.groups))
	for k, g := range r.groups {
		all = append(all, &keyedGroup{k, g})
	}
	sortGroups(all)
	shown := map[groupKey]*keyedGroup{}
	var list []*keyedGroup
	for i, kg := range all {
		g := kg.g
		if i >= 4*r.limits.Groups {
			res.GroupsOmitted++
			res.EntriesOmitted += g.count
			continue
		}
		example := r.env.Scrub(g.raw, "logs:"+kg.k.log)
		key := groupKey{kg.k.log, kg.k.source, g.tag + signature(example)}
		ex, exCut := cutWords(example, r.limits.Message, true)
		merged := *g
		merged.raw, merged.cut = ex, g.cut || exCut
		s, ok := shown[key]
		if !ok {
			s = &keyedGroup{key, &merged}
			shown[key] = s
			list = append(list, s)
			continue
		}
		s.g.count += g.count
		s.g.severity = min(s.g.severity, g.severity)
		if g.first.Before(s.g.first) {
			s.g.first = g.first
		}
		if g.last.After(s.g.last) {
			s.g.last, s.g.raw, s.g.cut = g.last, merged.raw, merged.cut
		}
	}
	sortGroups(list)
	for i, kg := range list {
		g := kg.g
		if i >= r.limits.Groups {
			res.GroupsOmitted++
			res.EntriesOmitted += g.count
			continue
		}
		res.Groups = append(res.Groups, LogGroup{
			Log: kg.k.log, Source: kg.k.source, Signature: kg.k.signature,
			Level: levelName(g.severity), Count: g.count,
			FirstSeen: fmtTime(g.first), LastSeen: fmtTime(g.last),
			Example: g.raw, ExampleCut: g.cut,
		})
		res.Truncated = res.Truncated || g.cut
	}
	res.EntriesOmitted += r.overflow
	res.Truncated = res.Truncated || res.GroupsOmitted > 0 || r.overflow > 0
}

type keyedGroup struct {
	k groupKey
	g *logGroup
}

// sortGroups orders groups most frequent first, then most recent.
func sortGroups(gs []*keyedGroup) {
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.g.count != b.g.count {
			return a.g.count > b.g.count
		}
		if !a.g.last.Equal(b.g.last) {
			return a.g.last.After(b.g.last)
		}
		if a.k.log != b.k.log {
			return a.k.log < b.k.log
		}
		if a.k.source != b.k.source {
			return a.k.source < b.k.source
		}
		return a.k.signature < b.k.signature
	})
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// levelName names a severity as the result does.
func levelName(sev int) string {
	switch {
	case sev <= sevCritical:
		return "critical"
	case sev == sevError:
		return "error"
	}
	return "warning"
}

// cleanMessage makes a host message one line of valid UTF-8 (terminal
// escape sequences go, control characters and runs of blanks become one
// space) and cuts it to
// maxRawMessage between words; it reports whether it cut.
func cleanMessage(s string) (string, bool) {
	hardCut := len(s) > 2*maxRawMessage
	if hardCut {
		s = s[:2*maxRawMessage]
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			// A terminal colour or cursor sequence: ESC [ params final.
			for i += 2; i < len(s) && (s[i] < 0x40 || s[i] > 0x7e); i++ {
			}
			continue
		}
		if c < 0x20 || c == 0x7f || c == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	out := b.String()
	if hardCut {
		// Drop the word the cut went through, which may be half a secret.
		i := max(strings.LastIndexByte(out, ' '), 0)
		out = out[:i]
	}
	out, cut := cutWords(out, maxRawMessage, false)
	return strings.ToValidUTF8(out, "\uFFFD"), cut || hardCut
}

// cutWords cuts s to at most n bytes, at the last space before the cut.
// Without a space there, it keeps nothing of the word unless hard allows
// a cut inside it (at a rune boundary): text not yet scrubbed must never
// keep half a secret the rules would no longer recognise.
func cutWords(s string, n int, hard bool) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	cut := s[:n]
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		return cut[:i], true
	}
	if !hard {
		return "", true
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// cleanName makes a name from the host (a unit, a program, a device)
// valid UTF-8 without control characters, at most maxName bytes.
func cleanName(s string) string { return cleanLogText(s, maxName) }

// cleanLogText is cleanName with a bound of n bytes.
func cleanLogText(s string, n int) string {
	s, _ = cleanMessage(s)
	s, _ = cutWords(s, n, true)
	return s
}

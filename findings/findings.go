// Package findings turns snapshots into ranked findings, each with a stable
// ID that the knowledge base maps to an explanation and fix steps.
//
// An analyzer is one small function over one area (disk, memory, services
// ...), in one file that registers it from init(). Analyzers read probe
// data through decode structs of their own, naming only the JSON fields
// they need: that is the contract with the agent's probes, and it keeps
// this package free of agent code so that the agent and the collector can
// both link it. Every field is untrusted. A probe that failed, is absent or
// does not decode yields no finding for its area.
package findings

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sondehq/sonde/protocol"
)

// Finding is one thing worth a person's attention in a snapshot.
type Finding struct {
	// ID names the kind of finding ("disk.almost-full"); the knowledge
	// base is keyed by it.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Title says what was found, in a sentence, with this machine's
	// figures.
	Title string `json:"title"`
	// Subject is what the finding is about when an area has several: a
	// mount point, a unit, an interface. Empty otherwise.
	Subject string `json:"subject,omitempty"`
	// Evidence holds the figures the finding rests on, by name.
	Evidence map[string]any `json:"evidence,omitempty"`
}

// Severity ranks findings; a greater one is more urgent.
type Severity int

// The severities, in increasing order.
const (
	Info Severity = iota + 1
	Warning
	Critical
)

var severityNames = map[Severity]string{Info: "info", Warning: "warning", Critical: "critical"}

// String returns the severity's name: info, warning or critical.
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if _, ok := severityNames[s]; !ok {
		return nil, fmt.Errorf("findings: invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	for v, n := range severityNames {
		if n == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("findings: unknown severity %q", b)
}

// analyzer is one concern's check over a snapshot and its history.
type analyzer struct {
	// name is the area, for messages.
	name string
	// ids are every finding ID run may return.
	ids []string
	run func(in *input) []Finding
}

var (
	mu        sync.RWMutex
	analyzers []analyzer
	knownIDs  = map[string]bool{}
	// validID is a finding ID: dotted kebab-case words.
	validID = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$`)
)

// register adds an analyzer. It panics on an invalid or duplicate finding
// ID: both are programming errors found at start-up.
func register(name string, ids []string, run func(in *input) []Finding) {
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if !validID.MatchString(id) {
			panic(fmt.Sprintf("findings: invalid finding ID %q", id))
		}
		if knownIDs[id] {
			panic(fmt.Sprintf("findings: finding ID %q registered twice", id))
		}
		knownIDs[id] = true
	}
	analyzers = append(analyzers, analyzer{name: name, ids: ids, run: run})
}

// IDs returns every finding ID an analyzer may produce, sorted.
func IDs() []string {
	mu.RLock()
	defer mu.RUnlock()
	ids := make([]string, 0, len(knownIDs))
	for id := range knownIDs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Analyze returns the findings of doc, most severe first, then by ID and
// subject. history holds older snapshots of the same machine, newest first;
// it may be nil. One analyzer that fails never stops the others.
func Analyze(doc *protocol.Document, history []*protocol.Document) []Finding {
	return analyze(doc, history, true)
}

// analyze runs every analyzer; with guard false a panic propagates, so
// that tests and the fuzz target see it.
func analyze(doc *protocol.Document, history []*protocol.Document, guard bool) []Finding {
	if doc == nil {
		return nil
	}
	mu.RLock()
	list := slices.Clone(analyzers)
	mu.RUnlock()
	in := newInput(doc, history)
	var out []Finding
	for _, a := range list {
		out = append(out, runOne(a, in, guard)...)
	}
	Sort(out)
	return out
}

func runOne(a analyzer, in *input, guard bool) (fs []Finding) {
	if guard {
		defer func() {
			if recover() != nil {
				fs = nil
			}
		}()
	}
	fs = a.run(in)
	if len(fs) > maxPerAnalyzer {
		Sort(fs)
		fs = fs[:maxPerAnalyzer]
	}
	return fs
}

// Sort ranks findings: most severe first, then by ID, then by subject.
func Sort(fs []Finding) {
	// sort.SliceStable, not slices.SortStableFunc: a generic sort of a
	// struct type links a dozen functions of its own into the agent.
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.ID, b.ID), strings.Compare(a.Subject, b.Subject)) < 0
	})
}

// input is what analyzers read: the snapshot and its usable history.
type input struct {
	doc *protocol.Document
	// history is the older snapshots, newest first, without nils and
	// bounded to maxHistory.
	history []*protocol.Document
}

func newInput(doc *protocol.Document, history []*protocol.Document) *input {
	in := &input{doc: doc}
	for _, h := range history {
		if len(in.history) == maxHistory {
			break
		}
		if h != nil {
			in.history = append(in.history, h)
		}
	}
	return in
}

// probe decodes the data of doc's probe name into v and reports whether it
// could: false when the probe is absent, failed, has no data or does not
// decode. The first probe of that name counts.
func probe(doc *protocol.Document, name string, v any) bool {
	for _, p := range doc.Probes {
		if p.Name != name {
			continue
		}
		if p.Error != "" || len(p.Data) == 0 {
			return false
		}
		return json.Unmarshal(p.Data, v) == nil
	}
	return false
}

// os returns the operating system the snapshot's facts name, or "".
func (in *input) os() string {
	if in.doc.Facts == nil {
		return ""
	}
	return in.doc.Facts.OS
}

// clip bounds an untrusted string carried into a finding, without
// leaving half a rune at the cut.
func clip(s string) string { return clipTo(s, maxTextLen) }

// clipTo cuts s to at most n bytes on a rune boundary, marking the cut.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// percent formats a ratio as a whole percentage for titles.
func percent(ratio float64) string {
	return fmt.Sprintf("%.0f%%", ratio*100)
}

// Package diff tells an L2 engineer what changed on a machine between two
// snapshots: services that failed, a DNS server that went away, a port that
// opened, a package that was upgraded, a disk that filled up.
//
// It reads the probes' JSON data (the contract) through small decode
// structs of its own and imports neither the agent nor the rest of the
// collector. Everything it reads is untrusted: a probe that is missing,
// failed or malformed makes its section "not comparable", noted, never a
// panic.
package diff

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Kind says how a subject changed.
type Kind string

// The kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Section names, in the order a Diff lists them: software first, because
// "what changed since it worked" is mostly "what got updated", then the
// log errors that are new since.
const (
	SectionSoftware  = "software"
	SectionLogs      = "logs"
	SectionSystem    = "system"
	SectionServices  = "services"
	SectionNetwork   = "network"
	SectionDisk      = "disk"
	SectionCPU       = "cpu"
	SectionMemory    = "memory"
	SectionProcesses = "processes"
)

// maxChanges bounds the changes one section lists; the rest are counted.
const maxChanges = 500

// Change is one difference between the snapshots. Added changes carry only
// After, removed ones only Before.
type Change struct {
	Kind    Kind   `json:"kind"`
	Subject string `json:"subject"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
	// Delta is After minus Before in percentage points, for ratios.
	Delta *float64 `json:"delta_pp,omitempty"`
	// Trend is "up" or "down" for a quantity that moved.
	Trend string `json:"trend,omitempty"`
	// Explains is the current finding this change may explain (see Lead).
	Explains string `json:"explains,omitempty"`
}

// Section is the changes in one area, and notes on what could not be
// compared there.
type Section struct {
	Name    string   `json:"name"`
	Changes []Change `json:"changes"`
	// LeftOff counts the changes left out beyond maxChanges.
	LeftOff int      `json:"changes_left_off,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Snapshot identifies one side of a Diff.
type Snapshot struct {
	AgentID    string    `json:"agent_id,omitempty"`
	Kind       string    `json:"kind"`
	CapturedAt time.Time `json:"captured_at"`
}

// Diff is what changed from one snapshot to another, by section. Only
// sections with changes or notes are listed.
type Diff struct {
	From     Snapshot  `json:"from"`
	To       Snapshot  `json:"to"`
	Sections []Section `json:"sections"`
	// Notes are remarks on the comparison as a whole.
	Notes []string `json:"notes,omitempty"`
}

// Empty says whether the diff found no change. Notes do not count: a diff
// whose sections could not be compared is empty, and says so in its notes.
func (d *Diff) Empty() bool {
	for _, s := range d.Sections {
		if len(s.Changes) > 0 || s.LeftOff > 0 {
			return false
		}
	}
	return true
}

// Section returns the named section, or nil when it has nothing to say.
func (d *Diff) Section(name string) *Section {
	for i := range d.Sections {
		if d.Sections[i].Name == name {
			return &d.Sections[i]
		}
	}
	return nil
}

// pair is the two documents compared.
type pair struct{ from, to *protocol.Document }

// sections are the comparisons, in order.
var sections = []struct {
	name    string
	compare func(*Section, pair)
}{
	{SectionSoftware, compareSoftware},
	{SectionLogs, compareLogs},
	{SectionSystem, compareSystem},
	{SectionServices, compareServices},
	{SectionNetwork, compareNetwork},
	{SectionDisk, compareDisk},
	{SectionCPU, compareCPU},
	{SectionMemory, compareMemory},
	{SectionProcesses, compareProcesses},
}

// Compare tells what changed from one snapshot to the other. A nil
// document is compared as one without probes.
func Compare(from, to *protocol.Document) *Diff {
	if from == nil {
		from = &protocol.Document{}
	}
	if to == nil {
		to = &protocol.Document{}
	}
	d := &Diff{From: snapshotOf(from), To: snapshotOf(to), Sections: []Section{}}
	if from.AgentID != "" && to.AgentID != "" && from.AgentID != to.AgentID {
		d.Notes = append(d.Notes, "the snapshots come from different agents")
	}
	for _, c := range sections {
		s := Section{Name: c.name}
		c.compare(&s, pair{from, to})
		if len(s.Changes) == 0 && len(s.Notes) == 0 {
			continue
		}
		if len(s.Changes) > maxChanges {
			s.LeftOff = len(s.Changes) - maxChanges
			s.Changes = s.Changes[:maxChanges:maxChanges]
		}
		if s.Changes == nil {
			s.Changes = []Change{}
		}
		d.Sections = append(d.Sections, s)
	}
	return d
}

func snapshotOf(d *protocol.Document) Snapshot {
	return Snapshot{AgentID: d.AgentID, Kind: d.Kind, CapturedAt: d.CapturedAt}
}

func (s *Section) add(c Change) { s.Changes = append(s.Changes, c) }

func (s *Section) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// value records a change of one value; equal values are no change, and a
// value appearing or vanishing is a change from or to "none".
func (s *Section) value(subject, before, after string) {
	if before == after {
		return
	}
	s.add(Change{Kind: Changed, Subject: subject, Before: cmp.Or(before, "none"), After: cmp.Or(after, "none")})
}

// members records what was removed from a set and what was added to it,
// each sorted; empty members are ignored. Removals are recorded only when
// removed is true, additions only when added is true.
func (s *Section) members(subject string, before, after []string, removed, added bool) {
	b, a := set(before), set(after)
	if removed {
		for _, v := range sortedKeys(b) {
			if _, ok := a[v]; !ok {
				s.add(Change{Kind: Removed, Subject: subject, Before: v})
			}
		}
	}
	if added {
		for _, v := range sortedKeys(a) {
			if _, ok := b[v]; !ok {
				s.add(Change{Kind: Added, Subject: subject, After: v})
			}
		}
	}
}

// ratio records a change of a ratio (0..1) of at least one percentage
// point, with its delta and trend.
func (s *Section) ratio(subject string, before, after float64) {
	delta := (after - before) * 100
	if delta > -minDeltaPP && delta < minDeltaPP {
		return
	}
	// The delta of the percentages shown, so that the line adds up.
	d := round1(after*100) - round1(before*100)
	d = round1(d)
	s.add(Change{Kind: Changed, Subject: subject, Before: percent(before), After: percent(after), Delta: &d, Trend: trend(delta)})
}

// minDeltaPP is the smallest ratio change, in percentage points, that is
// a change; a little less than one, for ratios rounded by the agent.
const minDeltaPP = 0.999

func set(vs []string) map[string]struct{} {
	m := make(map[string]struct{}, len(vs))
	for _, v := range vs {
		if v != "" {
			m[v] = struct{}{}
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func trend(delta float64) string {
	if delta < 0 {
		return "down"
	}
	return "up"
}

func percent(r float64) string { return fmt.Sprintf("%.1f%%", round1(r*100)) }

func round1(f float64) float64 { return math.Round(f*10) / 10 }

package diff

import (
	"slices"
	"strings"
)

// Cause is a current finding a change may explain: its ID
// ("disk.almost-full") and subject (the mount "/", the unit, ...).
type Cause struct {
	ID      string
	Subject string
}

// areas maps the first word of a finding ID to the sections whose changes
// can explain it.
var areas = map[string][]string{
	"disk":      {SectionDisk},
	"storage":   {SectionDisk, SectionLogs},
	"memory":    {SectionMemory, SectionProcesses},
	"process":   {SectionProcesses, SectionCPU},
	"cpu":       {SectionCPU, SectionProcesses},
	"service":   {SectionServices, SectionSoftware, SectionLogs},
	"logs":      {SectionLogs, SectionSoftware},
	"network":   {SectionNetwork},
	"dns":       {SectionNetwork},
	"proxy":     {SectionNetwork},
	"vpn":       {SectionNetwork},
	"collector": {SectionNetwork},
	"system":    {SectionSystem, SectionSoftware},
	"security":  {SectionSoftware, SectionServices},
}

// Lead puts first what explains the causes: the sections of their areas,
// in the order of the causes (the most severe first), and in each the
// changes that name a cause's subject, marked with the finding they
// explain. The rest keeps its order.
func (d *Diff) Lead(causes []Cause) {
	rank := map[string]int{}
	for _, c := range causes {
		area, _, _ := strings.Cut(c.ID, ".")
		for _, name := range areas[area] {
			if _, ok := rank[name]; !ok {
				rank[name] = len(rank)
			}
		}
	}
	if len(rank) == 0 {
		return
	}
	slices.SortStableFunc(d.Sections, func(a, b Section) int {
		ra, oka := rank[a.Name]
		rb, okb := rank[b.Name]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	for i := range d.Sections {
		s := &d.Sections[i]
		if _, ok := rank[s.Name]; !ok {
			continue
		}
		for j := range s.Changes {
			s.Changes[j].Explains = explains(s.Name, &s.Changes[j], causes)
		}
		slices.SortStableFunc(s.Changes, func(a, b Change) int {
			return boolRank(a.Explains != "") - boolRank(b.Explains != "")
		})
	}
}

// explains returns the ID of the first cause of section's area whose
// subject the change names, or "".
func explains(section string, c *Change, causes []Cause) string {
	for _, cause := range causes {
		area, _, _ := strings.Cut(cause.ID, ".")
		if !slices.Contains(areas[area], section) || cause.Subject == "" {
			continue
		}
		for _, s := range []string{c.Subject, c.Before, c.After} {
			if mentions(s, cause.Subject) {
				return cause.ID
			}
		}
	}
	return ""
}

// mentions reports whether text names subject as a whole word or path, or
// a path under it: "/ used" names "/", "/home used" does not; "folder
// /srv/data" names "/srv". Paths under "/" are on other mounts as often
// as not: they do not count for it.
func mentions(text, subject string) bool {
	for i := strings.Index(text, subject); i >= 0; {
		end := i + len(subject)
		before := i == 0 || strings.ContainsRune(" (,:", rune(text[i-1]))
		after := end == len(text) || strings.ContainsRune(" ),:", rune(text[end])) ||
			(subject != "/" && strings.HasPrefix(subject, "/") && text[end] == '/')
		if before && after {
			return true
		}
		next := strings.Index(text[i+1:], subject)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

func boolRank(b bool) int {
	if b {
		return -1
	}
	return 0
}

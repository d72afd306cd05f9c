package diff

import (
	"slices"
	"strings"
)

// processesData is what the diff reads of the processes probe's full
// result; its health result only counts processes.
type processesData struct {
	TopCPU    *[]process `json:"top_cpu"`
	TopMemory *[]process `json:"top_memory"`
}

type process struct {
	Name string `json:"name"`
}

// compareProcesses tells which processes of note, those in the top lists
// by CPU and by memory, appeared or disappeared, by name. A process that
// left the lists may still run, only more quietly.
func compareProcesses(s *Section, p pair) {
	var a, b processesData
	if !load(s, p, "processes", &a, &b) {
		return
	}
	if !a.full() || !b.full() {
		s.note("not comparable: only full snapshots list the top processes")
		return
	}
	s.members("top process", a.names(), b.names(), true, true)
}

func (d *processesData) full() bool { return d.TopCPU != nil || d.TopMemory != nil }

func (d *processesData) names() []string {
	var names []string
	for _, list := range []*[]process{d.TopCPU, d.TopMemory} {
		if list != nil {
			for _, p := range *list {
				names = append(names, p.Name)
			}
		}
	}
	return names
}

// softwareData is what the diff reads of a software probe's data: the
// installed packages and their versions. No probe reports it yet; the
// section lights up when one does.
type softwareData struct {
	Packages *[]softwarePackage `json:"packages"`
}

type softwarePackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// compareSoftware tells the packages added, removed, and upgraded or
// downgraded (changed). A package installed in several versions at once
// (kernels, multi-arch libraries) has them all, sorted and joined.
func compareSoftware(s *Section, p pair) {
	var a, b softwareData
	if !load(s, p, "software", &a, &b) {
		return
	}
	if a.Packages == nil || b.Packages == nil {
		s.note("not comparable: a snapshot has no package list")
		return
	}
	pa, pb := packages(*a.Packages), packages(*b.Packages)
	for _, name := range sortedKeys(union(pa, pb)) {
		before, ina := pa[name]
		after, inb := pb[name]
		switch {
		case !inb:
			s.add(Change{Kind: Removed, Subject: name, Before: before})
		case !ina:
			s.add(Change{Kind: Added, Subject: name, After: after})
		default:
			s.value(name, before, after)
		}
	}
}

// packages maps each package name to its versions.
func packages(list []softwarePackage) map[string]string {
	versions := make(map[string][]string, len(list))
	for _, p := range list {
		if p.Name != "" {
			versions[p.Name] = append(versions[p.Name], p.Version)
		}
	}
	m := make(map[string]string, len(versions))
	for name, vs := range versions {
		slices.Sort(vs)
		m[name] = strings.Join(slices.Compact(vs), ", ")
	}
	return m
}

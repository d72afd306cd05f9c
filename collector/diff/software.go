package diff

import (
	"cmp"
	"slices"
	"strings"
)

// softwareData is what the diff reads of the software probe's full
// result: the package list, how each source fared, and the reboot flag.
// Older data has packages without sources; they compare by name alone.
type softwareData struct {
	Sources  []softwareSource   `json:"sources"`
	Packages *[]softwarePackage `json:"packages"`
	Reboot   *struct {
		Required bool `json:"required"`
	} `json:"reboot"`
}

type softwareSource struct {
	Name      string `json:"name"`
	LeftOff   int    `json:"left_off"`
	Truncated bool   `json:"truncated"`
	Error     string `json:"error"`
}

type softwarePackage struct {
	Source  string `json:"source"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// notHere starts the error of a source the machine does not have, which
// is an empty source rather than an unknown one.
const notHere = "not available here"

// pkgKey identifies a package across snapshots: a snap and a deb of the
// same name are two packages.
type pkgKey struct{ name, source string }

func (k pkgKey) subject() string {
	if k.source == "" {
		return k.name
	}
	return k.name + " (" + k.source + ")"
}

// softwareSide is one snapshot's packages, read.
type softwareSide struct {
	// versions maps each package to its versions, sorted and joined (a
	// package installed for several architectures or in several versions
	// at once, as kernels are).
	versions map[pkgKey]string
	// last is, for each source whose list was cut short, the last name
	// listed: the list says nothing of the names after it.
	last map[string]string
	// unknown holds the sources that could not be read, or were read
	// only in part, with why.
	unknown map[string]string
}

// compareSoftware tells the packages installed (added), removed, and
// upgraded or downgraded (changed, old → new version), and whether a
// reboot became required or was done. Packages of a source that could
// not be read in either snapshot are not compared, and noted.
func compareSoftware(s *Section, p pair) {
	var a, b softwareData
	if !load(s, p, "software", &a, &b) {
		return
	}
	if a.Packages == nil || b.Packages == nil {
		s.note("not comparable: a snapshot has no package list")
		return
	}
	sa, sb := a.read(), b.read()
	for _, side := range []struct {
		name string
		soft softwareSide
	}{{earlier, sa}, {later, sb}} {
		for _, src := range sortedKeys(side.soft.unknown) {
			s.note("%s packages not compared: in the %s snapshot %s", src, side.name, clip(side.soft.unknown[src], maxNoteText))
		}
	}
	for _, src := range sortedKeys(union(sa.last, sb.last)) {
		if last := minLast(sa.last[src], sb.last[src]); last != "" {
			s.note("the %s list was cut short; packages beyond %q are not compared", src, last)
		} else {
			s.note("the %s list was cut short before its first package; its packages are not compared", src)
		}
	}
	keys := make([]pkgKey, 0, len(sa.versions)+len(sb.versions))
	for k := range sa.versions {
		keys = append(keys, k)
	}
	for k := range sb.versions {
		if _, dup := sa.versions[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y pkgKey) int { return cmp.Or(cmp.Compare(x.name, y.name), cmp.Compare(x.source, y.source)) })
	for _, k := range keys {
		if _, bad := sa.unknown[k.source]; bad {
			continue
		}
		if _, bad := sb.unknown[k.source]; bad {
			continue
		}
		before, ina := sa.versions[k]
		after, inb := sb.versions[k]
		switch {
		case ina && inb:
			s.value(k.subject(), before, after)
		case ina && sb.lists(k):
			s.add(Change{Kind: Removed, Subject: k.subject(), Before: before})
		case inb && sa.lists(k):
			s.add(Change{Kind: Added, Subject: k.subject(), After: after})
		}
	}
	if a.Reboot != nil && b.Reboot != nil {
		s.value("reboot required", yesNo(a.Reboot.Required), yesNo(b.Reboot.Required))
	}
}

// read groups the packages and notes what the sources say of their lists.
func (d *softwareData) read() softwareSide {
	side := softwareSide{versions: map[pkgKey]string{}, last: map[string]string{}, unknown: map[string]string{}}
	cut := map[string]bool{}
	for _, src := range d.Sources {
		switch {
		case src.Error != "" && !strings.HasPrefix(src.Error, notHere):
			side.unknown[src.Name] = "it could not be read: " + src.Error
		case src.Truncated:
			side.unknown[src.Name] = "its list was cut short while it was read"
		case src.LeftOff > 0:
			cut[src.Name] = true
			side.last[src.Name] = "" // until a package of it is listed
		}
	}
	versions := map[pkgKey][]string{}
	for _, pk := range *d.Packages {
		if pk.Name == "" {
			continue
		}
		k := pkgKey{pk.Name, pk.Source}
		versions[k] = append(versions[k], pk.Version)
		if cut[pk.Source] && pk.Name > side.last[pk.Source] {
			side.last[pk.Source] = pk.Name
		}
	}
	for k, vs := range versions {
		slices.Sort(vs)
		side.versions[k] = strings.Join(slices.Compact(vs), ", ")
	}
	return side
}

// lists says whether this side's list would hold k if it were installed:
// a list cut short says nothing of the names past its last.
func (side *softwareSide) lists(k pkgKey) bool {
	last, cut := side.last[k.source]
	return !cut || k.name <= last
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

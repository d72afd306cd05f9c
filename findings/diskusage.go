package findings

import (
	"fmt"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// This file reads the disk-usage probe, the on-demand walk of each file
// system at least 80% full (bundles run it), for disk.almost-full: which
// folder holds the space, and which grew since an earlier walk.

// usageData is what the disk analyzer reads of the disk-usage probe.
type usageData struct {
	Mounts []usageMount `json:"mounts"`
}

type usageMount struct {
	Mountpoint   string       `json:"mountpoint"`
	UsedBytes    uint64       `json:"used_bytes"`
	UsedRatio    float64      `json:"used_ratio"`
	LargestDirs  []usageEntry `json:"largest_dirs"`
	LargestFiles []usageEntry `json:"largest_files"`
	Truncated    bool         `json:"truncated"`
	Error        string       `json:"error"`
}

type usageEntry struct {
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
}

// Bounds on what is read of a walk, and shown of it.
const (
	maxUsageRead     = 50 // folders and files read of one walk
	maxUsageDirsEv   = 5  // folders in the evidence
	maxUsageFilesEv  = 3  // files in the evidence
	usageCulpritPart = 0.75
)

// diskUsage returns doc's walks by mount point: those that did not fail,
// each mount point once, as first listed, their lists bounded.
func diskUsage(doc *protocol.Document) map[string]usageMount {
	var d usageData
	if !probe(doc, "disk-usage", &d) {
		return nil
	}
	out := map[string]usageMount{}
	for _, m := range d.Mounts {
		if _, dup := out[m.Mountpoint]; dup || m.Error != "" || m.Mountpoint == "" {
			continue
		}
		m.LargestDirs = m.LargestDirs[:min(len(m.LargestDirs), maxUsageRead)]
		m.LargestFiles = m.LargestFiles[:min(len(m.LargestFiles), maxUsageRead)]
		out[m.Mountpoint] = m
	}
	return out
}

// explainUsage adds to a disk.almost-full finding on mount what the walk
// of it found: the largest folder or file in the title, the largest
// folders and files in the evidence, and the folder or file that grew most
// since the newest earlier walk of the same mount in the history.
func explainUsage(in *input, f *Finding, mountpoint string, walks map[string]usageMount) {
	u, ok := walks[mountpoint]
	if !ok {
		return
	}
	f.Evidence["largest_dirs"] = usageEvidence(u.LargestDirs, maxUsageDirsEv)
	f.Evidence["largest_files"] = usageEvidence(u.LargestFiles, maxUsageFilesEv)
	if u.Truncated {
		f.Evidence["walk_truncated"] = true
	}
	var sizes []sized
	for _, e := range u.entries() {
		sizes = append(sizes, sized{e.Path, e.Bytes})
	}
	if top, ok := culprit(sizes); ok {
		f.Title += fmt.Sprintf("; largest: %s %s", clip(top.path), bytesText(top.n))
	}
	if g, ok := grewMost(in, mountpoint, u); ok {
		ev := map[string]any{"path": clip(g.path), "bytes_before": g.before, "bytes_after": g.after}
		since := "an earlier snapshot"
		if !g.since.IsZero() {
			since = g.since.UTC().Format("2006-01-02 15:04 UTC")
			ev["since"] = g.since.UTC().Format(time.RFC3339)
		}
		f.Title += fmt.Sprintf("; %s grew by %s since %s", clip(g.path), bytesText(g.after-g.before), since)
		f.Evidence["grew"] = ev
	}
}

func usageEvidence(list []usageEntry, n int) []map[string]any {
	out := []map[string]any{}
	for _, e := range list[:min(len(list), n)] {
		out = append(out, map[string]any{"path": clip(e.Path), "bytes": e.Bytes})
	}
	return out
}

// entries are the walk's largest folders, then its largest files.
func (u *usageMount) entries() []usageEntry {
	return append(u.LargestDirs[:len(u.LargestDirs):len(u.LargestDirs)], u.LargestFiles...)
}

// sized is a folder or a file and a size: what it holds, or how much it grew.
type sized struct {
	path string
	n    uint64
}

// culprit names what to blame among folders, whose sizes include what
// they hold, and files: the largest, or the deepest folder or file beneath
// it that holds most of it (usageCulpritPart), since /var holding 3.2 GiB
// says less than /var/log/app holding 3.1 of them.
func culprit(list []sized) (sized, bool) {
	var top sized
	for _, e := range list {
		if e.n > top.n {
			top = e
		}
	}
	if top.n == 0 {
		return sized{}, false
	}
	best := top
	for _, e := range list {
		if within(e.path, top.path) && float64(e.n) >= usageCulpritPart*float64(top.n) && len(e.path) > len(best.path) {
			best = e
		}
	}
	return best, true
}

// within says whether path lies beneath dir, with either separator
// (the paths come from Unix and Windows machines alike).
func within(path, dir string) bool {
	if len(path) <= len(dir) || !strings.HasPrefix(path, dir) {
		return false
	}
	return strings.HasSuffix(dir, "/") || strings.HasSuffix(dir, `\`) || path[len(dir)] == '/' || path[len(dir)] == '\\'
}

// growth is how a folder or file grew between two walks.
type growth struct {
	path          string
	before, after uint64
	since         time.Time
}

// grewMost compares the walk u of mountpoint with the newest earlier walk
// of it in the history, over the folders and files both list, and names
// the one that grew most (by culprit) among those that grew notably: by
// DiskUsageGrowthMin and by DiskUsageGrowthShare of their earlier size.
func grewMost(in *input, mountpoint string, u usageMount) (growth, bool) {
	for _, h := range in.history {
		old, ok := diskUsage(h)[mountpoint]
		if !ok {
			continue
		}
		before := map[string]uint64{}
		for _, e := range old.entries() {
			if _, dup := before[e.Path]; !dup {
				before[e.Path] = e.Bytes
			}
		}
		var grew []sized
		for _, e := range u.entries() {
			if b, ok := before[e.Path]; ok && notableGrowth(b, e.Bytes, u.size()) {
				grew = append(grew, sized{e.Path, e.Bytes - b})
			}
		}
		g, ok := culprit(grew)
		if !ok {
			return growth{}, false
		}
		after := g.n + before[g.path]
		return growth{path: g.path, before: before[g.path], after: after, since: h.CapturedAt}, true
	}
	return growth{}, false
}

// notableGrowth says whether a folder that held before and holds after
// grew notably on a file system of size bytes (0 when unknown): by
// DiskUsageGrowthMin, or DiskUsageGrowthFSShare of a smaller file system,
// and by DiskUsageGrowthShare of its earlier size.
func notableGrowth(before, after, size uint64) bool {
	minGrowth := uint64(DiskUsageGrowthMin)
	if size > 0 {
		minGrowth = min(minGrowth, uint64(DiskUsageGrowthFSShare*float64(size)))
	}
	return after > before && after-before >= minGrowth && float64(after-before) >= DiskUsageGrowthShare*float64(before)
}

// size is the file system's size, from its use; 0 when unknown.
func (u *usageMount) size() uint64 {
	if !(u.UsedRatio > 0 && u.UsedRatio <= 1) {
		return 0
	}
	return uint64(float64(u.UsedBytes) / u.UsedRatio)
}

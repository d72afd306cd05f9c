package diff

// usageData is what the diff reads of the disk-usage probe: the largest
// folders of each file system it walked (those at least 80% full), sizes
// including everything beneath.
type usageData struct {
	Mounts []usageMount `json:"mounts"`
}

type usageMount struct {
	Mountpoint  string       `json:"mountpoint"`
	UsedBytes   uint64       `json:"used_bytes"`
	UsedRatio   float64      `json:"used_ratio"`
	LargestDirs []usageEntry `json:"largest_dirs"`
	Truncated   bool         `json:"truncated"`
	Error       string       `json:"error"`
}

type usageEntry struct {
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
}

// A folder changed notably when its size moved by folderChangeMin bytes
// (or folderChangeFSShare of a smaller file system's size) and by
// folderChangeShare of its earlier size: less is churn (logs
// rotating, caches breathing). findings' disk.almost-full names growth by
// the same rule.
const (
	folderChangeMin     = 100 << 20
	folderChangeShare   = 0.10
	folderChangeFSShare = 0.05
	// maxFoldersRead bounds the folders read of one walk.
	maxFoldersRead = 50
)

// compareFolders lists the folders that grew or shrank notably on each
// file system both snapshots walked, among the folders both list (a
// folder missing from one list has an unknown size there). The probe runs
// on demand (bundles run it), so a snapshot without it is no news.
func compareFolders(s *Section, p pair) {
	var a, b usageData
	if st, _ := read(p.from, "disk-usage", &a); st != ok {
		return
	}
	if st, _ := read(p.to, "disk-usage", &b); st != ok {
		return
	}
	wa, wb := walks(a.Mounts), walks(b.Mounts)
	for _, mp := range sortedKeys(wa) {
		before, after := wa[mp], wb[mp]
		if after == nil {
			continue
		}
		sizes := map[string]uint64{}
		for _, e := range before.LargestDirs {
			if _, dup := sizes[e.Path]; !dup {
				sizes[e.Path] = e.Bytes
			}
		}
		changed := false
		for _, e := range after.LargestDirs {
			old, ok := sizes[e.Path]
			if !ok || !notableChange(old, e.Bytes, after.size()) {
				continue
			}
			delete(sizes, e.Path) // once
			changed = true
			s.add(Change{Kind: Changed, Subject: "folder " + clip(e.Path, maxTextLen), Before: bytesText(old), After: bytesText(e.Bytes),
				Trend: trend(float64(e.Bytes) - float64(old))})
		}
		if changed && (before.Truncated || after.Truncated) {
			s.note("folder sizes under %s are lower bounds: a walk of it was cut short", clip(mp, maxNoteText))
		}
	}
}

// walks maps each mount point to its walk: walks that did not fail, the
// first of each mount point, their folders bounded.
func walks(list []usageMount) map[string]*usageMount {
	m := make(map[string]*usageMount, len(list))
	for i := range list {
		w := &list[i]
		if _, dup := m[w.Mountpoint]; dup || w.Mountpoint == "" || w.Error != "" {
			continue
		}
		w.LargestDirs = w.LargestDirs[:min(len(w.LargestDirs), maxFoldersRead)]
		m[w.Mountpoint] = w
	}
	return m
}

// notableChange says whether a folder that held before and holds after
// changed notably on a file system of size bytes (0 when unknown).
func notableChange(before, after, size uint64) bool {
	d := max(before, after) - min(before, after)
	minChange := uint64(folderChangeMin)
	if size > 0 {
		minChange = min(minChange, uint64(folderChangeFSShare*float64(size)))
	}
	return d >= minChange && float64(d) >= folderChangeShare*float64(before)
}

// size is the file system's size, from its use; 0 when unknown.
func (u *usageMount) size() uint64 {
	if !(u.UsedRatio > 0 && u.UsedRatio <= 1) {
		return 0
	}
	return uint64(float64(u.UsedBytes) / u.UsedRatio)
}

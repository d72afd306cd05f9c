package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/disk"
)

func init() {
	Register("disk-usage", Spec{Heavy: true, Platforms: Everywhere}, func() Probe {
		return &diskUsageProbe{
			disk:   &diskProbe{usage: disk.UsageWithContext},
			walk:   defaultUsageWalk,
			remote: remoteVolume,
			now:    time.Now,
		}
	})
}

// diskUsageProbe answers "what filled the disk": for each file system the
// disk probe reports at least DiskUsageThreshold full, it walks the folders
// within that file system, bounded in depth, entries and time, and reports
// the largest folders and files. It is heavy: it runs when named, as
// bundles do, never in a health snapshot.
type diskUsageProbe struct {
	// disk lists the mounts and their fill level, as the disk probe does.
	disk *diskProbe
	// walk bounds each walk; its device and size functions are faked in
	// tests.
	walk usageWalk
	// remote says whether a mount point is a network drive (Windows maps
	// them to letters like local ones); those are never walked.
	remote func(mountpoint string) bool
	now    func() time.Time
}

// Bounds of the disk-usage probe.
const (
	// DiskUsageThreshold is the used share (as df counts) from which a
	// file system is walked: below the disk.almost-full warning, so that
	// the data is there when it fires.
	DiskUsageThreshold = 0.80
	maxUsageMounts     = 8               // file systems walked
	maxUsageTop        = 15              // folders and files listed per file system
	maxUsageDepth      = 6               // folder levels read below the mount point
	maxUsageEntries    = 200_000         // entries looked at, across file systems
	maxUsageTime       = 8 * time.Second // walking, across file systems
	maxUsagePath       = 512             // bytes of a path
)

// networkFstypes are file systems whose files live on another machine:
// walking them would load a file server, not explain this disk.
var networkFstypes = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "afpfs": true,
	"webdav": true, "fuse.sshfs": true, "9p": true, "ceph": true, "glusterfs": true,
}

// DiskUsageResult is the disk-usage probe's result.
type DiskUsageResult struct {
	// ThresholdRatio is the used share from which a file system is walked.
	ThresholdRatio float64          `json:"threshold_ratio"`
	Mounts         []DiskUsageMount `json:"mounts"`
	// MountsLeftOff counts file systems full enough that were not walked
	// beyond maxUsageMounts.
	MountsLeftOff int `json:"mounts_left_off,omitempty"`
	// Note says why no file system was walked.
	Note string `json:"note,omitempty"`
}

// DiskUsageMount is what one file system's walk found. Sizes are what the
// files take on the disk (SizeKind "allocated": blocks, as du counts) where
// the platform says, else their length ("apparent"). A folder's size is
// everything the walk counted beneath it; when Truncated, sizes are lower
// bounds.
type DiskUsageMount struct {
	Mountpoint   string           `json:"mountpoint"`
	Fstype       string           `json:"fstype"`
	UsedRatio    float64          `json:"used_ratio"`
	UsedBytes    uint64           `json:"used_bytes"`
	SizeKind     string           `json:"size_kind"`
	WalkedBytes  uint64           `json:"walked_bytes"`
	LargestDirs  []DiskUsageEntry `json:"largest_dirs"`
	LargestFiles []DiskUsageEntry `json:"largest_files"`
	// EntriesVisited counts the files, folders and links looked at.
	EntriesVisited int `json:"entries_visited"`
	// Truncated says the walk did not see everything; TruncatedBy says
	// which bounds cut it: "depth", "entries", "time".
	Truncated   bool     `json:"truncated,omitempty"`
	TruncatedBy []string `json:"truncated_by,omitempty"`
	// Unreadable counts entries and folders that could not be read.
	Unreadable int `json:"unreadable,omitempty"`
	// OtherFilesystems counts folders where another file system is
	// mounted, left out.
	OtherFilesystems int    `json:"other_filesystems,omitempty"`
	Error            string `json:"error,omitempty"`
}

// DiskUsageEntry is a folder or a file and its size in bytes.
type DiskUsageEntry struct {
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
}

func (p *diskUsageProbe) Name() string { return "disk-usage" }

func (p *diskUsageProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		// Heavy probes never run in the health path; the registry keeps
		// them out, and this keeps the walk out should that change.
		return nil, errors.New("disk-usage has no health variant: it runs on demand only")
	}
	mounts, err := p.disk.mounts(ctx)
	if err != nil {
		return nil, err
	}
	r := &DiskUsageResult{ThresholdRatio: DiskUsageThreshold, Mounts: []DiskUsageMount{}}
	var full []DiskMount
	for _, m := range mounts {
		if m.Error != "" || m.ReadOnly || m.UsedRatio < DiskUsageThreshold ||
			networkFstypes[strings.ToLower(m.Fstype)] || p.remote(m.Mountpoint) {
			continue
		}
		if len(full) == maxUsageMounts {
			r.MountsLeftOff++
			continue
		}
		full = append(full, m)
	}
	if len(full) == 0 {
		r.Note = fmt.Sprintf("no local, writable file system is %.0f%% full or more; nothing was walked", DiskUsageThreshold*100)
		return r, nil
	}
	root := Path(ctx, common.HostRootEnvKey)
	entries, end := p.walk.maxEntries, p.now().Add(p.walk.maxTime)
	if d, ok := ctx.Deadline(); ok {
		// Leave a fifth of the caller's time to encode and send.
		if limit := d.Add(-d.Sub(p.now()) / 5); limit.Before(end) {
			end = limit
		}
	}
	for i, m := range full {
		// Each file system gets an even share of what is left, so that
		// one large tree does not starve the next.
		w := p.walk
		w.maxEntries = entries / (len(full) - i)
		w.deadline = p.now().Add(end.Sub(p.now()) / time.Duration(len(full)-i))
		w.now = p.now
		um := p.walkMount(ctx, env, &w, root, m)
		entries -= um.EntriesVisited
		r.Mounts = append(r.Mounts, um)
	}
	return r, nil
}

// walkMount walks the file system mounted at m.
func (p *diskUsageProbe) walkMount(ctx context.Context, env *Env, w *usageWalk, root string, m DiskMount) DiskUsageMount {
	top := walkRoot(m.Mountpoint)
	um := DiskUsageMount{
		Mountpoint: m.Mountpoint, Fstype: m.Fstype, UsedRatio: m.UsedRatio, UsedBytes: m.UsedBytes,
		SizeKind: w.sizeKind, LargestDirs: []DiskUsageEntry{}, LargestFiles: []DiskUsageEntry{},
	}
	out, err := w.run(ctx, walkRoot(underRoot(root, m.Mountpoint)))
	if err != nil {
		// The error names the path as seen from here; say the host's.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		um.Error = fmt.Sprintf("walking %s: %v", m.Mountpoint, err)
		return um
	}
	um.WalkedBytes, um.EntriesVisited = out.bytes, out.visited
	um.Unreadable, um.OtherFilesystems = out.unreadable, out.otherFS
	um.TruncatedBy, um.Truncated = out.cut, len(out.cut) > 0
	for _, e := range out.dirs {
		um.LargestDirs = append(um.LargestDirs, DiskUsageEntry{Path: cleanPath(env, filepath.Join(top, e.path)), Bytes: e.bytes})
	}
	for _, e := range out.files {
		um.LargestFiles = append(um.LargestFiles, DiskUsageEntry{Path: cleanPath(env, filepath.Join(top, e.path)), Bytes: e.bytes})
	}
	return um
}

// walkRoot is the folder to walk for a mount point: a Windows drive
// ("C:") names the current folder on it, its root is "C:\".
func walkRoot(mountpoint string) string {
	if len(mountpoint) == 2 && mountpoint[1] == ':' {
		return mountpoint + `\`
	}
	return mountpoint
}

// cleanPath makes a host path fit to send: secrets in file names scrubbed
// (user names stay: they say whose files these are), valid UTF-8, control
// characters shown as '?', at most maxUsagePath bytes.
func cleanPath(env *Env, path string) string {
	path = strings.ToValidUTF8(path, "\uFFFD")
	if len(path) > 4*maxUsagePath {
		path, _ = bound(path, 4*maxUsagePath, false) // enough to scrub what is kept
	}
	path = env.Scrub(path, "path")
	path = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, path)
	path, _ = bound(path, maxUsagePath, false)
	return path
}

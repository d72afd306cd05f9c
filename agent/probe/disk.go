package probe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/disk"
)

func init() {
	Register("disk", Spec{Platforms: Everywhere}, func() Probe { return &diskProbe{usage: disk.UsageWithContext} })
}

// diskProbe reports the usage of each mounted block file system and of the
// memory-backed ones programs write to (tmpfs at /tmp, /run, /dev/shm),
// blocks and inodes, and the I/O counters of each disk.
type diskProbe struct {
	// usage statfs(2)s the file system mounted at path; tests fake it.
	usage func(ctx context.Context, path string) (*disk.UsageStat, error)
	// mountinfo and parts are the mount table last read and gopsutil's
	// parse of it, reused while the table is byte for byte the same, or
	// while the kernel announces no change of it (table).
	mountinfo []byte
	parts     []disk.PartitionStat
	table     mountWatch
}

// skippedFstypes are file systems on block devices that are full by
// design (snaps, images): reporting them would only raise false alarms.
var skippedFstypes = map[string]bool{"squashfs": true, "iso9660": true, "udf": true}

// DiskResult is the disk probe's full result.
type DiskResult struct {
	Mounts []DiskMount `json:"mounts"`
	IO     []DiskIO    `json:"io"`
	Errors []string    `json:"errors,omitempty"`
}

// DiskMount is one file system, under its main mount point. A mount that
// could not be read has only its names and Error; one without inodes
// (vfat, btrfs) has no inode figures.
type DiskMount struct {
	Device          string  `json:"device"`
	Mountpoint      string  `json:"mountpoint"`
	Fstype          string  `json:"fstype"`
	ReadOnly        bool    `json:"read_only,omitempty"`
	TotalBytes      uint64  `json:"total_bytes,omitempty"`
	UsedBytes       uint64  `json:"used_bytes,omitempty"`
	FreeBytes       uint64  `json:"free_bytes,omitempty"`
	UsedRatio       float64 `json:"used_ratio,omitempty"`
	InodesTotal     uint64  `json:"inodes_total,omitempty"`
	InodesUsed      uint64  `json:"inodes_used,omitempty"`
	InodesFree      uint64  `json:"inodes_free,omitempty"`
	InodesUsedRatio float64 `json:"inodes_used_ratio,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// DiskIO are a disk's cumulative I/O counters since boot.
type DiskIO struct {
	Name         string `json:"name"`
	Serial       string `json:"serial,omitempty"`
	Label        string `json:"label,omitempty"`
	ReadCount    uint64 `json:"read_count"`
	WriteCount   uint64 `json:"write_count"`
	ReadBytes    uint64 `json:"read_bytes"`
	WriteBytes   uint64 `json:"write_bytes"`
	ReadTimeMs   uint64 `json:"read_time_ms"`
	WriteTimeMs  uint64 `json:"write_time_ms"`
	IOTimeMs     uint64 `json:"io_time_ms"`
	WeightedIOMs uint64 `json:"weighted_io_ms"`
	InProgress   uint64 `json:"in_progress"`
}

// DiskHealth is the disk probe's light result.
type DiskHealth struct {
	Mounts []DiskMountHealth `json:"mounts"`
}

// DiskMountHealth is one file system's fill level.
type DiskMountHealth struct {
	Mountpoint      string  `json:"mountpoint"`
	UsedRatio       float64 `json:"used_ratio"`
	InodesUsedRatio float64 `json:"inodes_used_ratio"`
	// Fstype is set for a memory-backed file system only (tmpfs), whose
	// filling is told apart from a disk's.
	Fstype string `json:"fstype,omitempty"`
}

func (p *diskProbe) Name() string { return "disk" }

func (p *diskProbe) Collect(ctx context.Context, env *Env) (any, error) {
	mounts, err := p.mounts(ctx)
	if err != nil {
		return nil, err
	}
	if env.Health {
		h := &DiskHealth{Mounts: make([]DiskMountHealth, 0, len(mounts))}
		for _, m := range mounts {
			if m.Error == "" {
				mh := DiskMountHealth{Mountpoint: m.Mountpoint, UsedRatio: m.UsedRatio, InodesUsedRatio: m.InodesUsedRatio}
				if m.Fstype == "tmpfs" {
					mh.Fstype = m.Fstype
				}
				h.Mounts = append(h.Mounts, mh)
			}
		}
		return h, nil
	}
	r := &DiskResult{Mounts: mounts}
	if r.IO, err = diskIO(ctx); err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	return r, nil
}

// mounts lists the block file systems, each device once, with their usage.
func (p *diskProbe) mounts(ctx context.Context) ([]DiskMount, error) {
	parts, err := p.partitions(ctx)
	if err != nil {
		return nil, err
	}
	root := Path(ctx, common.HostRootEnvKey)
	devRoot := Path(ctx, common.HostDevEnvKey)
	mounts := make([]DiskMount, 0, len(parts))
	for _, part := range uniqueDevices(parts) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("measuring mounts: %w", err)
		}
		m := DiskMount{
			Device:     hostDevice(part.Device, devRoot),
			Mountpoint: part.Mountpoint,
			Fstype:     part.Fstype,
			ReadOnly:   slices.Contains(part.Opts, "ro"),
		}
		u, err := p.usage(ctx, underRoot(root, part.Mountpoint))
		if err != nil {
			m.Error = fmt.Sprintf("statfs %s: %v", part.Mountpoint, err)
			mounts = append(mounts, m)
			continue
		}
		if u.Total == 0 {
			continue // nothing to fill: autofs placeholders and the like
		}
		m.TotalBytes, m.UsedBytes, m.FreeBytes = u.Total, u.Used, u.Free
		m.UsedRatio = shareOf(u.Used, u.Used+u.Free) // what users can fill, as df counts
		m.InodesTotal, m.InodesUsed, m.InodesFree = u.InodesTotal, u.InodesUsed, u.InodesFree
		m.InodesUsedRatio = shareOf(u.InodesUsed, u.InodesTotal)
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// partitions returns the mounted block file systems. The mount table
// seldom changes: it is read again only when the kernel announced a change
// (mountWatch), and compared with the last one: gopsutil's parse, and its
// read of /proc/filesystems, happen only when it changed.
func (p *diskProbe) partitions(ctx context.Context) ([]disk.PartitionStat, error) {
	b, changed, err := p.table.read(Path(ctx, common.HostProcEnvKey, "1/mountinfo"))
	if err == nil && p.parts != nil && (!changed || bytes.Equal(b, p.mountinfo)) {
		return p.parts, nil
	}
	var table []byte
	if err == nil {
		table = bytes.Clone(b)
	}
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	parts = append(parts, memoryMounts(table)...)
	// Without a table of its own (gopsutil fell back to /proc/self), the
	// next call parses again.
	p.mountinfo, p.parts = table, nil
	if table != nil {
		p.parts = parts
	}
	return parts, nil
}

// memoryMountpoints are where a memory-backed file system (tmpfs) that
// programs write to is mounted: one that fills up eats RAM and breaks the
// programs that keep their files there, as a full disk does. (gopsutil
// lists block devices only.)
var memoryMountpoints = []string{"/tmp", "/run", "/run/lock", "/dev/shm", "/run/shm", "/var/tmp"}

// memoryMounts returns the tmpfs mounts of a mountinfo table at
// memoryMountpoints and under /run/user (each user's runtime folder).
func memoryMounts(mountinfo []byte) []disk.PartitionStat {
	var out []disk.PartitionStat
	for line := range bytes.Lines(mountinfo) {
		// ID parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := bytes.Cut(line, []byte(" - "))
		if !ok {
			continue
		}
		f, g := strings.Fields(string(pre)), strings.Fields(string(post))
		if len(f) < 6 || len(g) < 1 || g[0] != "tmpfs" {
			continue
		}
		mp := f[4]
		if !slices.Contains(memoryMountpoints, mp) && !strings.HasPrefix(mp, "/run/user/") {
			continue
		}
		out = append(out, disk.PartitionStat{Device: "tmpfs", Mountpoint: mp, Fstype: "tmpfs", Opts: strings.Split(f[5], ",")})
	}
	return out
}

// uniqueDevices keeps one mount per device, in the order devices first
// appear: a device mounted at several places (bind mounts, btrfs
// subvolumes, a container's /etc/hosts) has one usage. It prefers a mount of
// the file system's root, then the shortest mount point.
func uniqueDevices(parts []disk.PartitionStat) []disk.PartitionStat {
	out := make([]disk.PartitionStat, 0, len(parts))
	at := make(map[string]int, len(parts))
	for _, part := range parts {
		if skippedFstypes[part.Fstype] || strings.HasPrefix(part.Device, "/dev/loop") {
			continue
		}
		key := part.Device
		if part.Fstype == "tmpfs" {
			key += ":" + part.Mountpoint // each tmpfs is its own
		}
		i, dup := at[key]
		if !dup {
			at[key] = len(out)
			out = append(out, part)
			continue
		}
		// gopsutil marks with "bind" the mounts of a subtree.
		oldBind, newBind := slices.Contains(out[i].Opts, "bind"), slices.Contains(part.Opts, "bind")
		if oldBind && !newBind || oldBind == newBind && len(part.Mountpoint) < len(out[i].Mountpoint) {
			out[i] = part
		}
	}
	return out
}

// underRoot is where a mount point of the host is seen from here: under
// HOST_ROOT when that is not "/" (a container, a test's fixture tree).
func underRoot(root, mountpoint string) string {
	if root != "/" && root != "" {
		return filepath.Join(root, mountpoint)
	}
	return mountpoint
}

// hostDevice names a device as the host does: gopsutil resolves
// /dev/mapper links under HOST_DEV, which may not be /dev.
func hostDevice(dev, devRoot string) string {
	if devRoot != "/dev" && devRoot != "" && strings.HasPrefix(dev, devRoot+"/") {
		return "/dev" + dev[len(devRoot):]
	}
	return dev
}

// diskIO returns the counters of whole disks that did any I/O; partitions
// repeat their disk's numbers, and loop and RAM disks are noise.
func diskIO(ctx context.Context) ([]DiskIO, error) {
	var names []string
	whole := map[string]bool{}
	if ents, err := os.ReadDir(Path(ctx, common.HostSysEnvKey, "block")); err == nil {
		for _, e := range ents {
			whole[e.Name()] = true
			if ioDiskWanted(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	if len(whole) > 0 && len(names) == 0 {
		return []DiskIO{}, nil // only loop and RAM disks
	}
	counters, err := disk.IOCountersWithContext(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("reading diskstats: %w", err)
	}
	out := make([]DiskIO, 0, len(counters))
	for name, c := range counters {
		if !ioDiskWanted(name) || len(whole) > 0 && !whole[name] {
			continue
		}
		out = append(out, DiskIO{
			Name: name, Serial: c.SerialNumber, Label: c.Label,
			ReadCount: c.ReadCount, WriteCount: c.WriteCount,
			ReadBytes: c.ReadBytes, WriteBytes: c.WriteBytes,
			ReadTimeMs: c.ReadTime, WriteTimeMs: c.WriteTime,
			IOTimeMs: c.IoTime, WeightedIOMs: c.WeightedIO, InProgress: c.IopsInProgress,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ioDiskWanted reports whether a block device's counters are worth sending.
func ioDiskWanted(name string) bool {
	return !strings.HasPrefix(name, "loop") && !strings.HasPrefix(name, "ram") && !strings.HasPrefix(name, "zram")
}

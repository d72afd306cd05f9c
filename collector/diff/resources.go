package diff

import (
	"fmt"
	"strings"
)

// diskData is what the diff reads of the disk probe's data; its full and
// health results share these fields. Mounts is null when the probe could
// not list them.
type diskData struct {
	Mounts *[]mount `json:"mounts"`
}

type mount struct {
	Device          string   `json:"device"`
	Mountpoint      string   `json:"mountpoint"`
	Fstype          string   `json:"fstype"`
	UsedRatio       *float64 `json:"used_ratio"`
	InodesUsedRatio *float64 `json:"inodes_used_ratio"`
	Error           string   `json:"error"`
}

// compareDisk compares the mounts, and the folders that grew or shrank
// where both snapshots walked a disk (compareFolders).
func compareDisk(s *Section, p pair) {
	compareMounts(s, p)
	compareFolders(s, p)
}

// compareMounts compares the mounts, and the used share of the space and
// of the inodes of each mount on both sides.
func compareMounts(s *Section, p pair) {
	var a, b diskData
	if !load(s, p, "disk", &a, &b) {
		return
	}
	if a.Mounts == nil || b.Mounts == nil {
		s.note("not comparable: a snapshot did not list the mounts")
		return
	}
	ma, mb := mounts(*a.Mounts), mounts(*b.Mounts)
	for _, mp := range sortedKeys(union(ma, mb)) {
		before, ina := ma[mp]
		after, inb := mb[mp]
		switch {
		case !inb:
			s.add(Change{Kind: Removed, Subject: "mount " + mp, Before: before.describe()})
		case !ina:
			s.add(Change{Kind: Added, Subject: "mount " + mp, After: after.describe()})
		default:
			usage(s, mp+" used", before.Error, after.Error, before.space(), after.space())
			usage(s, mp+" inodes used", before.Error, after.Error, before.inodes(), after.inodes())
		}
	}
}

// usage records a change of a mount's used share; a share unknown on one
// side is noted.
func usage(s *Section, subject, errA, errB string, a, b *float64) {
	ra, oka := ratioOf(a)
	rb, okb := ratioOf(b)
	switch {
	case oka && okb:
		s.ratio(subject, ra, rb)
	case errA != "" || errB != "":
		s.note("%s not comparable: the mount could not be read", subject)
	default:
		s.note("%s not comparable: the value is out of range", subject)
	}
}

// mounts maps each mount point to its mount; the first one counts.
func mounts(list []mount) map[string]mount {
	m := make(map[string]mount, len(list))
	for _, mt := range list {
		if _, dup := m[mt.Mountpoint]; mt.Mountpoint != "" && !dup {
			m[mt.Mountpoint] = mt
		}
	}
	return m
}

// space is the used share of the space. The agent omits a zero ratio, and
// has none for a mount it could not read.
func (m *mount) space() *float64 { return m.share(m.UsedRatio) }

// inodes is the used share of the inodes; zero too where the file system
// has no inodes.
func (m *mount) inodes() *float64 { return m.share(m.InodesUsedRatio) }

func (m *mount) share(r *float64) *float64 {
	switch {
	case m.Error != "":
		return nil
	case r == nil:
		return new(0.0)
	}
	return r
}

func (m *mount) describe() string {
	return strings.TrimSpace(m.Fstype + " " + m.Device)
}

// memoryData is what the diff reads of the memory probe's data: the full
// result has the swap in an object, the health result its use alone.
type memoryData struct {
	UsedRatio     *float64  `json:"used_ratio"`
	Swap          *swap     `json:"swap"`
	SwapUsedBytes *uint64   `json:"swap_used_bytes"`
	Pressure      *pressure `json:"pressure"`
}

type swap struct {
	TotalBytes uint64 `json:"total_bytes"`
	UsedBytes  uint64 `json:"used_bytes"`
}

// compareMemory compares the used share of the memory, and the swap's size
// and use. The swap's use counts when it moved by a hundredth of the
// swap's size, and by at least a MiB.
func compareMemory(s *Section, p pair) {
	var a, b memoryData
	if !load(s, p, "memory", &a, &b) {
		return
	}
	ra, oka := ratioOf(a.UsedRatio)
	rb, okb := ratioOf(b.UsedRatio)
	if oka && okb {
		s.ratio("memory used", ra, rb)
	} else {
		s.note("memory used not comparable: the value is missing or out of range")
	}
	if a.Swap != nil && b.Swap != nil && a.Swap.TotalBytes != b.Swap.TotalBytes {
		s.value("swap size", bytesText(a.Swap.TotalBytes), bytesText(b.Swap.TotalBytes))
	}
	comparePressure(s, "memory pressure", a.Pressure, b.Pressure)
	ua, oka := a.swapUsed()
	ub, okb := b.swapUsed()
	if !oka || !okb {
		s.note("swap used not comparable: the value is missing")
		return
	}
	threshold := max(float64(1<<20), float64(max(a.swapTotal(), b.swapTotal()))/100)
	if delta := float64(ub) - float64(ua); delta >= threshold || -delta >= threshold {
		s.add(Change{Kind: Changed, Subject: "swap used", Before: bytesText(ua), After: bytesText(ub), Trend: trend(delta)})
	}
}

func (d *memoryData) swapUsed() (uint64, bool) {
	switch {
	case d.Swap != nil:
		return d.Swap.UsedBytes, true
	case d.SwapUsedBytes != nil:
		return *d.SwapUsedBytes, true
	}
	return 0, false
}

func (d *memoryData) swapTotal() uint64 {
	if d.Swap == nil {
		return 0
	}
	return d.Swap.TotalBytes
}

// bytesText writes a size in binary units: "512 B", "1.5 GiB".
func bytesText(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}

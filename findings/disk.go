package findings

import (
	"fmt"
	"math"
	"time"

	"github.com/sondehq/sonde/protocol"
)

func init() {
	register("disk", []string{"disk.almost-full", "disk.inodes-almost-full", "disk.filling-fast"}, analyzeDisk)
}

// diskData is what the disk analyzer reads of the disk probe, full or
// health variant (the health one has only the mount point and ratios).
type diskData struct {
	Mounts []diskMount `json:"mounts"`
}

type diskMount struct {
	Device          string  `json:"device"`
	Mountpoint      string  `json:"mountpoint"`
	Fstype          string  `json:"fstype"`
	ReadOnly        bool    `json:"read_only"`
	TotalBytes      uint64  `json:"total_bytes"`
	FreeBytes       uint64  `json:"free_bytes"`
	UsedRatio       float64 `json:"used_ratio"`
	InodesTotal     uint64  `json:"inodes_total"`
	InodesFree      uint64  `json:"inodes_free"`
	InodesUsedRatio float64 `json:"inodes_used_ratio"`
	Error           string  `json:"error"`
}

// diskMounts returns the mounts worth judging in doc, in order and by mount
// point: those read without error and writable, each mount point once.
func diskMounts(doc *protocol.Document) ([]diskMount, map[string]diskMount) {
	var d diskData
	if !probe(doc, "disk", &d) {
		return nil, nil
	}
	var list []diskMount
	byPoint := map[string]diskMount{}
	for _, m := range d.Mounts {
		if m.Error != "" || m.ReadOnly || m.Mountpoint == "" {
			continue
		}
		if _, dup := byPoint[m.Mountpoint]; dup {
			continue
		}
		byPoint[m.Mountpoint] = m
		list = append(list, m)
	}
	return list, byPoint
}

func analyzeDisk(in *input) []Finding {
	mounts, _ := diskMounts(in.doc)
	walks := diskUsage(in.doc)
	var out []Finding
	for _, m := range mounts {
		point := clip(m.Mountpoint)
		if sev := level(m.UsedRatio, DiskFullWarning, DiskFullCritical); sev != 0 {
			ev := diskEvidence(m)
			ev["used_ratio"] = m.UsedRatio
			if m.TotalBytes > 0 {
				ev["free_bytes"] = m.FreeBytes
			}
			title := fmt.Sprintf("The disk at %s is %s full", point, percent(m.UsedRatio))
			if m.Fstype == "tmpfs" {
				// It holds its files in RAM: full, it fails writes and
				// squeezes the memory programs have.
				title = fmt.Sprintf("The memory-backed file system at %s is %s full", point, percent(m.UsedRatio))
			}
			f := Finding{ID: "disk.almost-full", Severity: sev, Subject: point, Evidence: ev, Title: title}
			explainUsage(in, &f, m.Mountpoint, walks)
			out = append(out, f)
		}
		if sev := level(m.InodesUsedRatio, InodesFullWarning, InodesFullCritical); sev != 0 {
			ev := diskEvidence(m)
			ev["inodes_used_ratio"] = m.InodesUsedRatio
			if m.InodesTotal > 0 {
				ev["inodes_free"] = m.InodesFree
			}
			out = append(out, Finding{
				ID: "disk.inodes-almost-full", Severity: sev, Subject: point, Evidence: ev,
				Title: fmt.Sprintf("The disk at %s has used %s of its room for files (inodes)", point, percent(m.InodesUsedRatio)),
			})
		}
		if f, ok := fillingFast(in, m); ok {
			out = append(out, f)
		}
	}
	return out
}

// fillingFast projects the growth of m since the oldest snapshot within
// DiskGrowthWindow.
func fillingFast(in *input, m diskMount) (Finding, bool) {
	now := in.doc.CapturedAt
	if now.IsZero() || m.UsedRatio >= 1 {
		return Finding{}, false
	}
	var ref diskMount
	var since time.Time
	for _, h := range in.history {
		age := now.Sub(h.CapturedAt)
		if h.CapturedAt.IsZero() || age < DiskGrowthMinSpan || age > DiskGrowthWindow {
			continue
		}
		if _, byPoint := diskMounts(h); byPoint != nil {
			if old, ok := byPoint[m.Mountpoint]; ok && (since.IsZero() || h.CapturedAt.Before(since)) {
				ref, since = old, h.CapturedAt
			}
		}
	}
	growth := m.UsedRatio - ref.UsedRatio
	if since.IsZero() || growth < DiskGrowthMinRatio {
		return Finding{}, false
	}
	span := now.Sub(since)
	// In floating point: garbage ratios must not overflow a Duration.
	hours := (1 - m.UsedRatio) / growth * span.Hours()
	if !(hours >= 0 && hours <= DiskFillHorizon.Hours()) {
		return Finding{}, false
	}
	toFull := time.Duration(hours * float64(time.Hour))
	ev := diskEvidence(m)
	ev["used_ratio"] = m.UsedRatio
	ev["used_ratio_before"] = ref.UsedRatio
	ev["since"] = since.UTC().Format(time.RFC3339)
	ev["hours_to_full"] = math.Round(hours*10) / 10
	point := clip(m.Mountpoint)
	return Finding{
		ID: "disk.filling-fast", Severity: Warning, Subject: point, Evidence: ev,
		Title: fmt.Sprintf("The disk at %s went from %s to %s full in %s; at that pace it is full in about %s",
			point, percent(ref.UsedRatio), percent(m.UsedRatio), roughly(span), roughly(toFull)),
	}, true
}

func diskEvidence(m diskMount) map[string]any {
	ev := map[string]any{"mountpoint": clip(m.Mountpoint)}
	if m.Device != "" {
		ev["device"] = clip(m.Device)
	}
	if m.Fstype != "" {
		ev["fstype"] = clip(m.Fstype)
	}
	if m.TotalBytes > 0 {
		ev["total_bytes"] = m.TotalBytes
	}
	return ev
}

// level returns the severity of a value against a warning and a critical
// threshold, or 0 below both.
func level(v, warning, critical float64) Severity {
	switch {
	case v >= critical:
		return Critical
	case v >= warning:
		return Warning
	}
	return 0
}

// roughly says a duration the way a person would: minutes, hours or days.
func roughly(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		if n := int(d.Minutes() + 0.5); n > 1 {
			return fmt.Sprintf("%d minutes", n)
		}
		return "1 minute"
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()+0.5))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24+0.5))
}

package findings

import (
	"maps"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Each analyzer at its thresholds: a finding fires at or beyond one, not
// a hair below.

func TestDiskThresholds(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		want  Severity
	}{
		{0.8999, 0}, {DiskFullWarning, Warning}, {0.9499, Warning}, {DiskFullCritical, Critical}, {1, Critical},
	} {
		fs := run(probes{"disk": map[string]any{"mounts": []map[string]any{
			{"mountpoint": "/", "used_ratio": tc.ratio},
			{"mountpoint": "/var", "inodes_used_ratio": tc.ratio},
		}}})
		if got := severityOf(t, fs, "disk.almost-full"); got != tc.want {
			t.Errorf("used %v: %v, want %v", tc.ratio, got, tc.want)
		}
		if got := severityOf(t, fs, "disk.inodes-almost-full"); got != tc.want {
			t.Errorf("inodes used %v: %v, want %v", tc.ratio, got, tc.want)
		}
	}
	if InodesFullWarning != 0.90 || InodesFullCritical != 0.95 {
		t.Error("inode thresholds changed: the knowledge base says 90% and 95%")
	}
}

func TestDiskEvidence(t *testing.T) {
	fs := run(probes{"disk": map[string]any{"mounts": []map[string]any{
		{"mountpoint": "/", "device": "/dev/sda1", "fstype": "ext4", "total_bytes": 1000, "free_bytes": 40, "used_ratio": 0.96,
			"inodes_total": 100, "inodes_free": 3, "inodes_used_ratio": 0.97},
		// The health variant: ratios only.
		{"mountpoint": "/data", "used_ratio": 0.91, "inodes_used_ratio": 0.92},
	}}})
	full := only(fs, "disk.almost-full")
	inodes := only(fs, "disk.inodes-almost-full")
	if len(full) != 2 || len(inodes) != 2 {
		t.Fatalf("findings %v", ids(fs))
	}
	for _, tc := range []struct {
		f    Finding
		want map[string]any
	}{
		{full[0], map[string]any{"mountpoint": "/", "device": "/dev/sda1", "fstype": "ext4", "total_bytes": uint64(1000), "free_bytes": uint64(40), "used_ratio": 0.96}},
		{full[1], map[string]any{"mountpoint": "/data", "used_ratio": 0.91}},
		{inodes[0], map[string]any{"mountpoint": "/", "device": "/dev/sda1", "fstype": "ext4", "total_bytes": uint64(1000), "inodes_free": uint64(3), "inodes_used_ratio": 0.97}},
		{inodes[1], map[string]any{"mountpoint": "/data", "inodes_used_ratio": 0.92}},
	} {
		if !maps.Equal(tc.f.Evidence, tc.want) {
			t.Errorf("%s %s evidence %v, want %v", tc.f.ID, tc.f.Subject, tc.f.Evidence, tc.want)
		}
	}
	if full[0].Title != "The disk at / is 96% full" || inodes[1].Title != "The disk at /data has used 92% of its room for files (inodes)" {
		t.Errorf("titles %q, %q", full[0].Title, inodes[1].Title)
	}
}

// TestDiskMountsJudged: mounts that failed, are read-only or have no
// mount point are not judged; a mount point listed twice counts once, as
// first listed.
func TestDiskMountsJudged(t *testing.T) {
	fs := run(probes{"disk": map[string]any{"mounts": []map[string]any{
		{"mountpoint": "/a", "used_ratio": 0.99, "error": "permission denied"},
		{"mountpoint": "/b", "used_ratio": 0.99, "read_only": true},
		{"mountpoint": "", "used_ratio": 0.99},
		{"mountpoint": "/c", "used_ratio": 0.91},
		{"mountpoint": "/c", "used_ratio": 0.99},
	}}})
	f := one(t, fs, "disk.almost-full")
	if f.Subject != "/c" || f.Severity != Warning {
		t.Errorf("finding %+v", f)
	}
}

// fill is the disk probe of one mount, /, at ratio r.
func fill(r float64) probes {
	return probes{"disk": map[string]any{"mounts": []map[string]any{{"mountpoint": "/", "used_ratio": r}}}}
}

// aged is an older snapshot of / at a ratio.
type aged struct {
	age   time.Duration
	ratio float64
}

// filling returns the disk.filling-fast findings of / at ratio r now,
// with the older snapshots history.
func filling(r float64, history ...aged) []Finding {
	var hs []*protocol.Document
	for _, h := range history {
		hs = append(hs, snap(now.Add(-h.age), fill(h.ratio)))
	}
	return only(analyze(snap(now, fill(r)), hs, false), "disk.filling-fast")
}

// TestDiskGrowthSpan: the growth counts from a snapshot at least
// DiskGrowthMinSpan and at most DiskGrowthWindow old, both inclusive.
func TestDiskGrowthSpan(t *testing.T) {
	for _, tc := range []struct {
		h    aged
		want string
	}{
		{aged{DiskGrowthMinSpan, 0.8}, "The disk at / went from 80% to 90% full in 30 minutes; at that pace it is full in about 30 minutes"},
		{aged{DiskGrowthMinSpan - time.Nanosecond, 0.8}, ""},
		{aged{DiskGrowthWindow, 0.1}, "The disk at / went from 10% to 90% full in 24 hours; at that pace it is full in about 3 hours"},
		{aged{DiskGrowthWindow + time.Nanosecond, 0.1}, ""},
		// Growth below DiskGrowthMinRatio is noise.
		{aged{time.Hour, 0.895}, ""},
		{aged{time.Hour, 0.95}, ""},
	} {
		fs := filling(0.9, tc.h)
		switch {
		case tc.want == "" && len(fs) != 0:
			t.Errorf("%v: %v", tc.h, fs)
		case tc.want != "" && (len(fs) != 1 || fs[0].Title != tc.want || fs[0].Severity != Warning):
			t.Errorf("%v: %v, want %q", tc.h, fs, tc.want)
		}
	}
}

// TestDiskFillHorizon: a disk full in exactly DiskFillHorizon at the pace
// seen fires; one full a little later does not. The ratios are exact in
// binary: 0.375 left, 0.015625 an hour.
func TestDiskFillHorizon(t *testing.T) {
	fs := filling(0.625, aged{time.Hour, 0.609375})
	if len(fs) != 1 {
		t.Fatalf("full in exactly 24 hours: %v", fs)
	}
	want := map[string]any{"mountpoint": "/", "used_ratio": 0.625, "used_ratio_before": 0.609375,
		"since": now.Add(-time.Hour).Format(time.RFC3339), "hours_to_full": 24.0}
	if !maps.Equal(fs[0].Evidence, want) || fs[0].Subject != "/" {
		t.Errorf("evidence %v, want %v", fs[0].Evidence, want)
	}
	if fs := filling(0.625, aged{time.Hour, 0.6094}); len(fs) != 0 {
		t.Errorf("full in a little over 24 hours: %v", fs)
	}
	// A full disk is not filling: it is full.
	if fs := filling(1, aged{time.Hour, 0.5}); len(fs) != 0 {
		t.Errorf("full disk: %v", fs)
	}
}

// TestDiskGrowthFromOldest: the oldest snapshot within the window is the
// reference, whatever the order of the history.
func TestDiskGrowthFromOldest(t *testing.T) {
	for _, order := range [][]aged{
		{{time.Hour, 0.85}, {2 * time.Hour, 0.8}, {25 * time.Hour, 0.1}},
		{{25 * time.Hour, 0.1}, {2 * time.Hour, 0.8}, {time.Hour, 0.85}},
	} {
		fs := filling(0.9, order...)
		if len(fs) != 1 || fs[0].Evidence["used_ratio_before"] != 0.8 || fs[0].Evidence["hours_to_full"] != 2.0 {
			t.Errorf("%v: %v", order, fs)
		}
	}
	// History without the mount, without a time, or without a readable
	// disk probe gives no reference.
	other := snap(now.Add(-time.Hour), probes{"disk": map[string]any{"mounts": []map[string]any{{"mountpoint": "/home", "used_ratio": 0.1}}}})
	untimed := snap(time.Time{}, fill(0.1))
	broken := snap(now.Add(-time.Hour), probes{"disk": "garbage"})
	if fs := analyze(snap(now, fill(0.9)), []*protocol.Document{other, untimed, broken}, false); len(only(fs, "disk.filling-fast")) != 0 {
		t.Errorf("no reference: %v", ids(fs))
	}
	// A snapshot without a capture time has no growth.
	if fs := analyze(snap(time.Time{}, fill(0.9)), []*protocol.Document{snap(now.Add(-time.Hour), fill(0.1))}, false); len(only(fs, "disk.filling-fast")) != 0 {
		t.Errorf("current without a time: %v", ids(fs))
	}
}

func TestRoughly(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1 minute"},
		{89 * time.Second, "1 minute"},
		{90 * time.Second, "2 minutes"},
		{119 * time.Minute, "119 minutes"},
		{2 * time.Hour, "2 hours"},
		{47*time.Hour + 29*time.Minute, "47 hours"},
		{47*time.Hour + 30*time.Minute, "48 hours"},
		{48 * time.Hour, "2 days"},
		{59 * time.Hour, "2 days"},
		{60 * time.Hour, "3 days"},
	} {
		if got := roughly(tc.d); got != tc.want {
			t.Errorf("roughly(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

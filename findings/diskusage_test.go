package findings

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

const gib = 1 << 30

// gb is x GiB in bytes.
func gb(x float64) uint64 { return uint64(x * gib) }

// walk is a disk-usage result for one mount, from "path bytes" pairs of
// folders and of files.
func walk(mountpoint string, dirs, files []any) map[string]any {
	entries := func(kv []any) []map[string]any {
		out := []map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, map[string]any{"path": kv[i], "bytes": kv[i+1]})
		}
		return out
	}
	return map[string]any{"mountpoint": mountpoint, "largest_dirs": entries(dirs), "largest_files": entries(files)}
}

// fullRoot is a disk probe result with / 92% full.
var fullRoot = map[string]any{"mounts": []any{map[string]any{"mountpoint": "/", "device": "/dev/vda1", "fstype": "ext4", "used_ratio": 0.92}}}

// TestAlmostFullNamesLargest: with a walk of the full disk, the finding
// names the folder holding most of it, deepest first, and lists the
// largest folders and files in its evidence.
func TestAlmostFullNamesLargest(t *testing.T) {
	w := walk("/",
		[]any{"/var", gb(3.5), "/var/log", gb(3.3), "/var/log/app", gb(3.1), "/home", gb(0.4), "/home/jdoe", gb(0.4), "/usr", gb(0.3)},
		[]any{"/var/log/app/app.log.1", gb(1.5), "/var/log/app/app.log", gb(1.4), "/home/jdoe/a.iso", gb(0.3), "/x", 1})
	w["truncated"] = true
	f := one(t, run(probes{"disk": fullRoot, "disk-usage": map[string]any{"mounts": []any{w}}}), "disk.almost-full")
	if f.Title != "The disk at / is 92% full; largest: /var/log/app 3.1 GiB" {
		t.Errorf("title %q", f.Title)
	}
	dirs, _ := f.Evidence["largest_dirs"].([]map[string]any)
	files, _ := f.Evidence["largest_files"].([]map[string]any)
	if len(dirs) != 5 || dirs[0]["path"] != "/var" || dirs[4]["path"] != "/home/jdoe" || len(files) != 3 || files[0]["bytes"] != uint64(1.5*gib) ||
		f.Evidence["walk_truncated"] != true || f.Evidence["used_ratio"] != 0.92 {
		t.Errorf("evidence %v", f.Evidence)
	}
	if _, err := json.Marshal(f); err != nil {
		t.Error(err)
	}
}

// TestAlmostFullCulprit: a file that holds most of the largest folder is
// named; so is a file larger than any folder; a folder whose subfolders
// share it evenly is named itself.
func TestAlmostFullCulprit(t *testing.T) {
	for _, tc := range []struct {
		dirs, files []any
		want        string
	}{
		{[]any{"/var/log", gb(3)}, []any{"/var/log/huge.log", gb(2.5)}, "/var/log/huge.log 2.5 GiB"},
		{[]any{"/var", gb(2)}, []any{"/disk.img", gb(5)}, "/disk.img 5.0 GiB"},
		{[]any{"/srv", gb(4), "/srv/a", gb(2), "/srv/b", gb(2)}, nil, "/srv 4.0 GiB"},
		// A sibling whose name starts like the largest is not beneath it.
		{[]any{"/srv", gb(4), "/srv2", gb(3.5)}, nil, "/srv 4.0 GiB"},
		{[]any{`C:\Users`, gb(4), `C:\Users\jdoe`, gb(3.9)}, nil, `C:\Users\jdoe 3.9 GiB`},
	} {
		f := one(t, run(probes{"disk": fullRoot, "disk-usage": map[string]any{"mounts": []any{walk("/", tc.dirs, tc.files)}}}), "disk.almost-full")
		if want := "The disk at / is 92% full; largest: " + tc.want; f.Title != want {
			t.Errorf("%v %v: title %q, want %q", tc.dirs, tc.files, f.Title, want)
		}
	}
}

// TestAlmostFullWithoutWalk: no walk of that mount, a failed walk or an
// empty one leaves the finding as the disk probe alone makes it.
func TestAlmostFullWithoutWalk(t *testing.T) {
	failed := walk("/", []any{"/var", gib}, nil)
	failed["error"] = "walking /: permission denied"
	for name, usage := range map[string]any{
		"other mount": map[string]any{"mounts": []any{walk("/data", []any{"/data/x", gib}, nil)}},
		"failed":      map[string]any{"mounts": []any{failed}},
		"garbage":     map[string]any{"mounts": "no"},
	} {
		f := one(t, run(probes{"disk": fullRoot, "disk-usage": usage}), "disk.almost-full")
		if f.Title != "The disk at / is 92% full" || f.Evidence["largest_dirs"] != nil {
			t.Errorf("%s: %q %v", name, f.Title, f.Evidence)
		}
	}
	f := one(t, run(probes{"disk": fullRoot, "disk-usage": map[string]any{"mounts": []any{walk("/", nil, nil)}}}), "disk.almost-full")
	if f.Title != "The disk at / is 92% full" || !reflect.DeepEqual(f.Evidence["largest_dirs"], []map[string]any{}) {
		t.Errorf("empty walk: %q %v", f.Title, f.Evidence)
	}
}

// TestAlmostFullTmpfsLargest: the memory-backed wording names the
// largest file the same way.
func TestAlmostFullTmpfsLargest(t *testing.T) {
	disk := map[string]any{"mounts": []any{map[string]any{"mountpoint": "/dev/shm", "fstype": "tmpfs", "used_ratio": 0.98}}}
	usage := map[string]any{"mounts": []any{walk("/dev/shm", nil, []any{"/dev/shm/.org.chromium.Chromium.x1", gb(6)})}}
	f := one(t, run(probes{"disk": disk, "disk-usage": usage}), "disk.almost-full")
	if f.Title != "The memory-backed file system at /dev/shm is 98% full; largest: /dev/shm/.org.chromium.Chromium.x1 6.0 GiB" {
		t.Errorf("title %q", f.Title)
	}
}

// TestAlmostFullGrew: against the newest earlier walk of the same mount
// in the history, the finding names what grew most, by at least 100 MiB
// and a tenth.
func TestAlmostFullGrew(t *testing.T) {
	usage := func(w map[string]any) probes {
		return probes{"disk": fullRoot, "disk-usage": map[string]any{"mounts": []any{w}}}
	}
	now := walk("/", []any{"/srv", gb(3.6), "/srv/data", gb(3.4), "/var/log", gb(1.15), "/home", gb(2.15)}, nil)
	earlier := time.Date(2026, 12, 3, 14, 2, 0, 0, time.UTC)
	history := []*protocol.Document{
		snap(now0.Add(-time.Hour), probes{"disk-usage": map[string]any{"mounts": []any{walk("/data", []any{"/data/x", gib}, nil)}}}),
		snap(earlier, usage(walk("/", []any{"/srv", gb(1.6), "/srv/data", gb(1.4), "/var/log", gb(1.1), "/home", gb(2)}, nil))),
		// Older still: not the one compared.
		snap(earlier.Add(-24*time.Hour), usage(walk("/", []any{"/home", gib}, nil))),
	}
	f := one(t, analyze(snap(now0, usage(now)), history, false), "disk.almost-full")
	want := "The disk at / is 92% full; largest: /srv/data 3.4 GiB; /srv/data grew by 2.0 GiB since 2026-12-03 14:02 UTC"
	if f.Title != want {
		t.Errorf("title %q, want %q", f.Title, want)
	}
	if g := f.Evidence["grew"]; !reflect.DeepEqual(g, map[string]any{"path": "/srv/data", "bytes_before": gb(1.4), "bytes_after": gb(3.4), "since": "2026-12-03T14:02:00Z"}) {
		t.Errorf("grew %v", g)
	}

	// /var/log grew by 50 MiB, /home by 150 MiB but 7.5%: neither is
	// notable.
	quiet := walk("/", []any{"/var/log", gb(1.15), "/home", gb(2.15)}, nil)
	f = one(t, analyze(snap(now0, usage(quiet)), history[1:2], false), "disk.almost-full")
	if strings.Contains(f.Title, "grew") || f.Evidence["grew"] != nil {
		t.Errorf("small growth named: %q", f.Title)
	}
	// An earlier snapshot without a capture time.
	history[1].CapturedAt = time.Time{}
	f = one(t, analyze(snap(now0, usage(now)), history, false), "disk.almost-full")
	if !strings.HasSuffix(f.Title, "; /srv/data grew by 2.0 GiB since an earlier snapshot") {
		t.Errorf("title %q", f.Title)
	}
}

// now0 is the capture time of the snapshots of the growth tests.
var now0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// TestNotableGrowthScalesWithSmallFileSystems: 11 MiB is churn on a big
// disk and the culprit on a 64 MiB tmpfs; a tenth of the folder's earlier
// size is needed either way.
func TestNotableGrowthScalesWithSmallFileSystems(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		before, after, size uint64
		want                bool
	}{
		{40 * mib, 51 * mib, 64 * mib, true},
		{40 * mib, 51 * mib, 0, false},
		{40 * mib, 51 * mib, 500 << 30, false},
		{400 * mib, 520 * mib, 500 << 30, true},
		{400 * mib, 402 * mib, 64 * mib, false},
		{40 * mib, 42 * mib, 64 * mib, false},
	} {
		if got := notableGrowth(c.before, c.after, c.size); got != c.want {
			t.Errorf("notableGrowth(%d, %d, %d) = %v", c.before, c.after, c.size, got)
		}
	}
	u := usageMount{UsedBytes: 48 * mib, UsedRatio: 0.75}
	if u.size() != 64*mib {
		t.Errorf("size %d", u.size())
	}
	if (&usageMount{UsedBytes: 1, UsedRatio: 0}).size() != 0 || (&usageMount{UsedBytes: 1, UsedRatio: 2}).size() != 0 {
		t.Error("size from an impossible ratio")
	}
}

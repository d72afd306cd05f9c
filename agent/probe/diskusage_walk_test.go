package probe

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v3/disk"
)

// lengthOf sizes a regular file by its length, so that sparse test files
// stand for large ones on any file system.
func lengthOf(fi fs.FileInfo) uint64 {
	if fi.Mode().IsRegular() {
		return uint64(fi.Size())
	}
	return 0
}

// testWalk is a walk with generous bounds, a minute to run, and files
// sized by length.
func testWalk() *usageWalk {
	return &usageWalk{
		device: fileDevice, size: lengthOf, sizeKind: "test", now: time.Now,
		maxDepth: 6, maxEntries: 10_000, top: 15, deadline: time.Now().Add(time.Minute),
	}
}

// files makes sparse files of the given lengths under root, and their
// folders.
func files(t testing.TB, root string, lengths map[string]int64) {
	t.Helper()
	for name, n := range lengths {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
}

func walkOf(t *testing.T, w *usageWalk, root string) walkOutcome {
	t.Helper()
	out, err := w.run(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func paths(list []sizedPath) []string {
	var out []string
	for _, e := range list {
		out = append(out, filepath.ToSlash(e.path))
	}
	return out
}

// TestUsageWalkSums: a folder's size is everything beneath it; the lists
// are largest first, a folder that is all one subfolder is listed as that
// subfolder, and zero-length files are not listed.
func TestUsageWalkSums(t *testing.T) {
	root := t.TempDir()
	files(t, root, map[string]int64{
		"var/log/app/a.log": 3000, "var/log/app/b.log": 1000, "var/log/syslog": 500,
		"srv/only/inner/blob": 2000, "empty": 0,
	})
	out := walkOf(t, testWalk(), root)
	if out.bytes != 6500 || out.visited != 11 || out.cut != nil {
		t.Errorf("bytes %d, visited %d, cut %v", out.bytes, out.visited, out.cut)
	}
	// var is all var/log, srv and srv/only all srv/only/inner.
	want := []sizedPath{{"var/log", 4500}, {"var/log/app", 4000}, {"srv/only/inner", 2000}}
	if !slices.Equal(out.dirs, want) {
		t.Errorf("dirs %v, want %v", out.dirs, want)
	}
	if got := paths(out.files); !slices.Equal(got, []string{"var/log/app/a.log", "srv/only/inner/blob", "var/log/app/b.log", "var/log/syslog"}) {
		t.Errorf("files %v", got)
	}
}

// TestUsageWalkDepth: folders deeper than maxDepth are not read, and the
// walk says it was cut by depth.
func TestUsageWalkDepth(t *testing.T) {
	root := t.TempDir()
	files(t, root, map[string]int64{"a/1": 1, "a/b/2": 10, "a/b/c/3": 100, "a/b/c/d/4": 1000})
	w := testWalk()
	w.maxDepth = 2
	out := walkOf(t, w, root)
	if out.bytes != 11 || !slices.Equal(out.cut, []string{cutDepth}) {
		t.Errorf("bytes %d, cut %v; want the files of a and a/b only, cut by depth", out.bytes, out.cut)
	}
	if got := paths(out.dirs); !slices.Equal(got, []string{"a", "a/b"}) {
		t.Errorf("dirs %v: a/b/c lies below the depth read", got)
	}
	w.maxDepth = 4
	if out := walkOf(t, w, root); out.bytes != 1111 || out.cut != nil {
		t.Errorf("deep enough: bytes %d, cut %v", out.bytes, out.cut)
	}
}

// TestUsageWalkEntries: the walk stops after maxEntries entries, and a
// folder of more entries than a read batch is read in batches.
func TestUsageWalkEntries(t *testing.T) {
	root := t.TempDir()
	many := map[string]int64{}
	for i := range readBatch + 100 {
		many[fmt.Sprintf("big/f%04d", i)] = 1
	}
	files(t, root, many)
	w := testWalk()
	if out := walkOf(t, w, root); out.visited != readBatch+101 || out.bytes != readBatch+100 || out.cut != nil {
		t.Errorf("whole walk: visited %d, bytes %d, cut %v", out.visited, out.bytes, out.cut)
	}
	w.maxEntries = 10
	out := walkOf(t, w, root)
	if out.visited != 10 || out.bytes != 9 || !slices.Equal(out.cut, []string{cutEntries}) {
		t.Errorf("visited %d, bytes %d, cut %v; want 10 entries (big and 9 files), cut by entries", out.visited, out.bytes, out.cut)
	}
}

// TestUsageWalkDeadline: the walk stops at its deadline, or when its
// caller gives up, and says time cut it.
func TestUsageWalkDeadline(t *testing.T) {
	root := t.TempDir()
	many := map[string]int64{}
	for i := range 1000 {
		many[fmt.Sprintf("d%d/f%d", i%10, i)] = 1
	}
	files(t, root, many)
	w := testWalk()
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	w.deadline = clock.Add(5 * time.Millisecond)
	out := walkOf(t, w, root)
	if out.visited == 0 || out.visited >= 1010 || !slices.Equal(out.cut, []string{cutTime}) {
		t.Errorf("visited %d, cut %v; want part of 1010 entries, cut by time", out.visited, out.cut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = testWalk()
	out, err := w.run(ctx, root)
	if err != nil || out.visited != 0 || !slices.Equal(out.cut, []string{cutTime}) {
		t.Errorf("cancelled: visited %d, cut %v, %v", out.visited, out.cut, err)
	}
}

// TestUsageWalkSymlinks: links are counted as themselves, never followed,
// so a link to a folder adds nothing and a loop ends.
func TestUsageWalkSymlinks(t *testing.T) {
	root := t.TempDir()
	files(t, root, map[string]int64{"real/big": 5000})
	for link, target := range map[string]string{"again": "real", "file": "real/big", "loop": ".", "out": "/"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	out := walkOf(t, testWalk(), root)
	if out.bytes != 5000 || out.visited != 6 {
		t.Errorf("bytes %d, visited %d; want real/big once and 6 entries", out.bytes, out.visited)
	}
	if got := paths(out.dirs); !slices.Equal(got, []string{"real"}) {
		t.Errorf("dirs %v", got)
	}
	if got := paths(out.files); !slices.Equal(got, []string{"real/big"}) {
		t.Errorf("files %v", got)
	}
}

// TestUsageWalkOtherFilesystem: a folder on another device (a file system
// mounted there) is neither entered nor counted.
func TestUsageWalkOtherFilesystem(t *testing.T) {
	root := t.TempDir()
	files(t, root, map[string]int64{"home/a": 10, "mnt/usb/b": 1000, "mnt/c": 100})
	w := testWalk()
	w.device = func(path string, _ fs.FileInfo) (uint64, bool) {
		if path == filepath.Join(root, "mnt", "usb") {
			return 2, true
		}
		return 1, true
	}
	out := walkOf(t, w, root)
	if out.bytes != 110 || out.otherFS != 1 || slices.Contains(paths(out.dirs), "mnt/usb") {
		t.Errorf("bytes %d, other file systems %d, dirs %v; want mnt/usb left out", out.bytes, out.otherFS, out.dirs)
	}
	// A device the platform does not tell is taken as the same.
	w.device = func(string, fs.FileInfo) (uint64, bool) { return 0, false }
	if out := walkOf(t, w, root); out.bytes != 1110 || out.otherFS != 0 {
		t.Errorf("no devices: bytes %d, other %d", out.bytes, out.otherFS)
	}
}

// TestUsageWalkRoot: a root that is missing or not a folder is an error.
func TestUsageWalkRoot(t *testing.T) {
	root := t.TempDir()
	files(t, root, map[string]int64{"f": 1})
	for _, path := range []string{filepath.Join(root, "f"), filepath.Join(root, "missing")} {
		if _, err := testWalk().run(context.Background(), path); err == nil {
			t.Errorf("walking %s: no error", path)
		}
	}
}

// TestTopList: the list keeps the n largest, largest first, ties in path
// order whatever the order offered.
func TestTopList(t *testing.T) {
	top := &dirNode{}
	for _, order := range [][]string{{"a", "b", "c", "d"}, {"d", "c", "b", "a"}} {
		l := topList{n: 3}
		sizes := map[string]uint64{"a": 5, "b": 9, "c": 5, "d": 1}
		for _, name := range order {
			l.offer(sizes[name], top, name)
		}
		if want := []sizedPath{{"b", 9}, {"a", 5}, {"c", 5}}; !slices.Equal(l.items, want) {
			t.Errorf("offered %v: %v, want %v", order, l.items, want)
		}
	}
	sub := &dirNode{parent: top, name: "x"}
	l := topList{n: 1}
	l.offer(3, &dirNode{parent: sub, name: "y"}, "z")
	if want := filepath.Join("x", "y", "z"); len(l.items) != 1 || l.items[0].path != want {
		t.Errorf("path %v, want %s", l.items, want)
	}
}

// TestCleanPath: paths leave the machine scrubbed of secrets, as valid
// UTF-8 without control characters, and bounded.
func TestCleanPath(t *testing.T) {
	env := &Env{}
	for in, want := range map[string]string{
		"/home/jdoe/Downloads/x.iso":                              "/home/jdoe/Downloads/x.iso",
		"/srv/ghp_R8fK2mQ7vX4nL9pT3wY6zB1cD5hJ0sA2eG4i.tar":       "/srv/[REDACTED:github-token].tar",
		"/tmp/a\xffb\nc":                                          "/tmp/a\uFFFDb?c",
		"/" + strings.Repeat("é", maxUsagePath):                   "/" + strings.Repeat("é", (maxUsagePath-1)/2),
		"/data/AKIAIOSFODNN7EXAMPLE/" + strings.Repeat("x", 3000): "/data/[REDACTED:aws-access-key-id]/" + strings.Repeat("x", maxUsagePath-len("/data/[REDACTED:aws-access-key-id]/")),
	} {
		if got := cleanPath(env, in); got != want {
			t.Errorf("cleanPath(%.40q) = %.60q, want %.60q", in, got, want)
		}
	}
	if r := env.scrubbed(); len(r) != 2 {
		t.Errorf("scrubbed %v, want the two secrets counted", r)
	}
}

// FuzzDiskUsagePath: whatever a file is named, its path leaves valid and
// bounded.
func FuzzDiskUsagePath(f *testing.F) {
	for _, s := range []string{"/var/log/app.log", "/tmp/\xff\xfe", "/x/ghp_R8fK2mQ7vX4nL9pT3wY6zB1cD5hJ0sA2eG4i", "C:\\Users\\jdoe\\a\tb", strings.Repeat("\x80", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanPath(&Env{}, s)
		if len(got) > maxUsagePath || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r\t\x00") {
			t.Errorf("cleanPath(%q) = %q", s, got)
		}
	})
}

// BenchmarkDiskUsageWalk20kEntries walks a tree of about 20,000 entries
// (20 folders of 20 folders of 50 files) made once, sizing entries by
// their blocks as the probe does.
func BenchmarkDiskUsageWalk20kEntries(b *testing.B) {
	root := b.TempDir()
	for i := range 20 {
		for j := range 20 {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", i), fmt.Sprintf("e%02d", j))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for k := range 50 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", k)), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	w := defaultUsageWalk
	w.now = time.Now
	var out walkOutcome
	for b.Loop() {
		w.deadline = time.Now().Add(time.Minute)
		var err error
		if out, err = w.run(context.Background(), root); err != nil {
			b.Fatal(err)
		}
	}
	if out.visited != 20+20*20+20*20*50 || out.cut != nil {
		b.Fatalf("visited %d, cut %v", out.visited, out.cut)
	}
	b.ReportMetric(float64(out.visited), "entries/op")
}

// TestDiskUsageShares: the file systems walked share the entries (each
// gets an even share of what is left, so one that needs little leaves the
// rest to the next); past maxUsageMounts they are counted, not walked.
func TestDiskUsageShares(t *testing.T) {
	host := t.TempDir()
	info := "28 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
	usage := map[string]*disk.UsageStat{"/": {Total: 100, Used: 50, Free: 50}}
	for i := range maxUsageMounts + 2 {
		mp := fmt.Sprintf("/m%d", i)
		info += fmt.Sprintf("%d 28 254:%d / %s rw - ext4 /dev/vd%c rw\n", 30+i, 16+i, mp, 'b'+i)
		usage[mp] = &disk.UsageStat{Total: 100, Used: 90, Free: 10}
	}
	files(t, host, map[string]int64{"proc/1/mountinfo": 0, "proc/filesystems": 0, "m0/a": 1, "m0/b": 1})
	if err := os.WriteFile(filepath.Join(host, "proc/1/mountinfo"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "proc/filesystems"), []byte("\text4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	many := map[string]int64{}
	for i := range 30 {
		many[fmt.Sprintf("m1/f%d", i)] = 1
	}
	files(t, host, many)
	for i := 2; i < maxUsageMounts+2; i++ {
		if err := os.Mkdir(filepath.Join(host, fmt.Sprintf("m%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &diskUsageProbe{
		disk: &diskProbe{usage: func(_ context.Context, path string) (*disk.UsageStat, error) {
			return usage["/"+strings.TrimPrefix(strings.TrimPrefix(path, host), "/")], nil
		}},
		walk: *testWalk(), remote: func(string) bool { return false }, now: time.Now,
	}
	p.walk.maxEntries, p.walk.maxTime = 10*maxUsageMounts, time.Minute
	v, err := p.Collect(WithRoot(context.Background(), host), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*DiskUsageResult)
	if len(r.Mounts) != maxUsageMounts || r.MountsLeftOff != 2 || r.Note != "" {
		t.Fatalf("walked %d, left off %d, note %q", len(r.Mounts), r.MountsLeftOff, r.Note)
	}
	// m0 needs 2 of its 10; m1 gets a seventh of the 78 left: 11 of its 30.
	m0, m1 := r.Mounts[0], r.Mounts[1]
	if m0.Mountpoint != "/m0" || m0.EntriesVisited != 2 || m0.Truncated || m0.WalkedBytes != 2 {
		t.Errorf("m0 %+v", m0)
	}
	if m1.Mountpoint != "/m1" || m1.EntriesVisited != 11 || !slices.Equal(m1.TruncatedBy, []string{cutEntries}) {
		t.Errorf("m1 %+v", m1)
	}
}

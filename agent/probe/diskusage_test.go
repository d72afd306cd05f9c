//go:build linux

package probe_test

import (
	"bufio"
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// TestDiskUsage runs the disk-usage probe on each case of
// testdata/disk-usage: a host (root/proc/1/mountinfo, and usage.json
// standing for statfs(2) as in the disk probe's cases) whose files, laid
// out from tree.txt at test time, are walked. Each mount point in
// usage.json is a file system of its own (the fake device of a folder is
// the longest one it lies under), and a file's size is its length.
func TestDiskUsage(t *testing.T) {
	for _, dir := range cases(t, "disk-usage") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree := t.TempDir()
			makeTree(t, filepath.Join(dir, "tree.txt"), tree)
			statfs, usage := fixtureStatfs(t, filepath.Join(dir, "usage.json"), tree)
			points := slices.Sorted(maps.Keys(usage))
			walked := 0
			device := func(path string, _ fs.FileInfo) (uint64, bool) {
				walked++
				return mountOf(points, tree, path), true
			}
			p := probe.NewTestDiskUsage(statfs, device, apparentSize)
			v, err := p.Collect(treeRoot(filepath.Join(dir, "root"), tree), &probe.Env{})
			if err != nil {
				t.Fatal(err)
			}
			probetest.Compare(t, v, filepath.Join(dir, "expected.json"))
			if r := v.(*probe.DiskUsageResult); len(r.Mounts) == 0 && walked > 0 {
				t.Errorf("nothing is full enough, yet %d folders were looked at", walked)
			}
			if _, err := p.Collect(context.Background(), &probe.Env{Health: true}); err == nil {
				t.Error("a health snapshot walked the disk")
			}
		})
	}
}

// treeRoot is a context in which the host is the fixture at fixture
// (/proc, /sys, /dev ...) but its files, from "/", are those at tree.
func treeRoot(fixture, tree string) context.Context {
	ctx := probe.WithRoot(context.Background(), fixture)
	m := maps.Clone(ctx.Value(common.EnvKey).(common.EnvMap))
	m[common.HostRootEnvKey] = tree
	return context.WithValue(ctx, common.EnvKey, m)
}

// mountOf numbers the file system of path, a folder under tree: the index
// in points of the longest mount point it lies under.
func mountOf(points []string, tree, path string) uint64 {
	host := "/" + strings.TrimPrefix(strings.TrimPrefix(path, tree), "/")
	best, dev := "", ^uint64(0)
	for i, mp := range points {
		if (host == mp || strings.HasPrefix(host, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, dev = mp, uint64(i)
		}
	}
	return dev
}

// apparentSize is a regular file's length: what a sparse fixture file
// stands for, the same on every file system the test runs on.
func apparentSize(fi fs.FileInfo) uint64 {
	if fi.Mode().IsRegular() {
		return uint64(fi.Size())
	}
	return 0
}

// makeTree lays out the entries of spec (see testdata/disk-usage/*/tree.txt)
// under dir; a case without one has no files.
func makeTree(t testing.TB, spec, dir string) {
	t.Helper()
	f, err := os.Open(spec)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := treeEntry(dir, line); err != nil {
			t.Fatalf("%s: %q: %v", spec, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// treeEntry makes one entry of a tree spec under dir.
func treeEntry(dir, line string) error {
	if name, target, ok := strings.Cut(line, " -> "); ok {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.Symlink(target, path)
	}
	if strings.HasSuffix(line, "/") {
		return os.MkdirAll(filepath.Join(dir, line), 0o755)
	}
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return strconv.ErrSyntax
	}
	name, size := line[:i], line[i+1:]
	if strings.Contains(name, `\`) {
		var err error
		if name, err = strconv.Unquote(`"` + name + `"`); err != nil {
			return err
		}
	}
	unit := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[size[len(size)-1]]
	if unit != 0 {
		size = size[:len(size)-1]
	} else {
		unit = 1
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Truncate(n * unit); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

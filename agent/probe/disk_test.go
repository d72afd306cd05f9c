//go:build linux

package probe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shirou/gopsutil/v3/disk"

	"github.com/sondehq/sonde/agent/probe"
)

func TestDisk(t *testing.T) {
	for _, dir := range cases(t, "disk") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			root := filepath.Join(dir, "root")
			statfs, _ := fixtureStatfs(t, filepath.Join(dir, "usage.json"), root)
			goldenSequence(t, func() probe.Probe { return probe.NewTestDisk(statfs) }, dir)

			// The second call reuses the parsed mount table: same result.
			p := probe.NewTestDisk(statfs)
			ctx := probe.WithRoot(context.Background(), root)
			var got [2][]byte
			for i := range got {
				v, err := p.Collect(ctx, &probe.Env{})
				if err != nil {
					t.Fatal(err)
				}
				got[i], _ = json.Marshal(v)
			}
			if string(got[0]) != string(got[1]) {
				t.Errorf("second call differs:\n%s\n%s", got[0], got[1])
			}
		})
	}
}

// fixtureStatfs reads a case's usage.json, which stands for statfs(2) by
// mount point, and returns a statfs over the host root at root, with the
// usage by mount point. A mount point missing from the file fails as an
// unreadable one would.
func fixtureStatfs(t testing.TB, usageFile, root string) (func(context.Context, string) (*disk.UsageStat, error), map[string]*disk.UsageStat) {
	t.Helper()
	b, err := os.ReadFile(usageFile)
	if err != nil {
		t.Fatal(err)
	}
	var usage map[string]*disk.UsageStat
	if err := json.Unmarshal(b, &usage); err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, path string) (*disk.UsageStat, error) {
		if path != root && !strings.HasPrefix(path, root+"/") {
			return nil, fmt.Errorf("statfs outside the host root: %s", path)
		}
		mp := "/" + strings.TrimPrefix(path[len(root):], "/")
		if u, ok := usage[mp]; ok {
			return u, nil
		}
		return nil, os.ErrPermission
	}, usage
}

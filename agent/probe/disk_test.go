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
			// usage.json stands for statfs(2), by mount point; a mount point
			// missing from it fails as an unreadable one would.
			b, err := os.ReadFile(filepath.Join(dir, "usage.json"))
			if err != nil {
				t.Fatal(err)
			}
			var usage map[string]*disk.UsageStat
			if err := json.Unmarshal(b, &usage); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(dir, "root")
			statfs := func(_ context.Context, path string) (*disk.UsageStat, error) {
				if path != root && !strings.HasPrefix(path, root+"/") {
					return nil, fmt.Errorf("statfs outside the host root: %s", path)
				}
				mp := "/" + strings.TrimPrefix(path[len(root):], "/")
				if u, ok := usage[mp]; ok {
					return u, nil
				}
				return nil, os.ErrPermission
			}
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

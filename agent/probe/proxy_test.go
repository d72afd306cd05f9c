package probe_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/protocol"
)

func TestProxy(t *testing.T) {
	for name, goos := range map[string]string{"laptop": "linux", "server": "linux", "windows": "windows", "macos": "darwin"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "proxy", name)
			tools := &probe.Tools{}
			if goos == "darwin" {
				tools = recorded(t, map[string]string{"scutil --proxy": filepath.Join(dir, "scutil.txt")})
			}
			p := probe.NewTestProxy(goos, exportOf(t, filepath.Join(dir, "registry.reg")), tools)
			goldenOrError(t, p, &probe.Env{}, dir)
		})
	}
}

// TestProxyScrubbed checks that no password of the fixtures leaves the
// probe, and that what was scrubbed is counted in the result.
func TestProxyScrubbed(t *testing.T) {
	set := probe.NewTestSet(map[string]probe.Probe{
		"proxy-laptop":  probe.NewTestProxy("linux", nil, &probe.Tools{}),
		"proxy-windows": probe.NewTestProxy("windows", exportOf(t, filepath.Join("testdata", "proxy", "windows", "registry.reg")), &probe.Tools{}),
	})
	ctx := probe.WithRoot(context.Background(), filepath.Join("testdata", "proxy", "laptop", "root"))
	for _, r := range set.Run(ctx, &probe.Env{}, []string{"proxy-laptop", "proxy-windows"}, 5e9) {
		if r.Error != "" {
			t.Fatalf("%s: %s", r.Name, r.Error)
		}
		for _, pw := range []string{"Winter2024", "hunter2"} {
			if strings.Contains(string(r.Data), pw) {
				t.Errorf("%s: password %q left the probe:\n%s", r.Name, pw, r.Data)
			}
		}
		want := map[string]uint32{"proxy-laptop": 4, "proxy-windows": 0}[r.Name]
		if got := scrubbedCount(r.Scrubbed); got != want {
			t.Errorf("%s: %d values scrubbed, want %d", r.Name, got, want)
		}
	}
}

func scrubbedCount(s []protocol.Scrub) uint32 {
	var n uint32
	for _, x := range s {
		n += x.Count
	}
	return n
}

// TestProxyHost runs the probe on this machine: whatever it finds, it
// reads every file it finds without error.
func TestProxyHost(t *testing.T) {
	p, _ := probe.New("proxy")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if r := v.(*probe.ProxyResult); len(r.Errors) > 0 || len(r.NotRead) == 0 {
		t.Errorf("proxy probe here: %+v", r)
	}
}

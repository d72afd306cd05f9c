package probe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestWifi(t *testing.T) {
	for _, tc := range []struct {
		name, goos string
		tools      map[string]string
	}{
		{name: "laptop", goos: "linux"},
		{name: "server", goos: "linux"},
		{name: "windows", goos: "windows", tools: map[string]string{"netsh wlan show interfaces": "netsh.txt"}},
		{name: "macos", goos: "darwin", tools: map[string]string{"system_profiler -json SPAirPortDataType": "system_profiler.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "wifi", tc.name)
			files := map[string]string{}
			for cmd, f := range tc.tools {
				files[cmd] = filepath.Join(dir, f)
			}
			tools := recorded(t, files)
			nl := ""
			if _, err := os.Stat(filepath.Join(dir, "nl80211")); err == nil {
				nl = filepath.Join(dir, "nl80211")
			}
			goldenOrError(t, probe.NewTestWifi(tc.goos, nl, tools), &probe.Env{}, dir)
			if tc.goos != "linux" {
				// No tool in a health snapshot.
				calls := tools.Calls
				_, err := probe.NewTestWifi(tc.goos, "", tools).Collect(context.Background(), &probe.Env{Health: true})
				if err == nil || tools.Calls != calls {
					t.Errorf("health run: %v, %d tool runs", err, tools.Calls-calls)
				}
			}
		})
	}
}

// TestWifiNoNL80211 checks that a kernel that cannot answer nl80211 still
// gives what /sys and /proc/net/wireless hold, and says why the rest is
// missing.
func TestWifiNoNL80211(t *testing.T) {
	ctx := probe.WithRoot(context.Background(), filepath.Join("testdata", "wifi", "laptop", "root"))
	v, err := probe.NewTestWifi("linux", t.TempDir(), &probe.Tools{}).Collect(ctx, &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.WifiResult)
	w := r.Interfaces[0]
	if r.Source != "proc" || len(r.Errors) != 1 || w.SignalDBM == nil || *w.SignalDBM != -78 || w.SSID != "" || !w.Connected {
		t.Errorf("without nl80211: %+v", r)
	}
}

// TestWifiHost runs the probe on this machine, which has no Wi-Fi.
func TestWifiHost(t *testing.T) {
	p, _ := probe.New("wifi")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err == nil {
		t.Skipf("this machine has Wi-Fi: %+v", v)
	}
	if !errors.Is(err, probe.ErrNotAvailable) {
		t.Errorf("no Wi-Fi here: %v, want not available", err)
	}
}

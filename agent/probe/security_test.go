package probe_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestSecurity(t *testing.T) {
	for _, tc := range []struct {
		name, goos string
		tools      map[string]string
	}{
		{name: "laptop", goos: "linux"},
		{name: "server", goos: "linux"},
		{name: "windows", goos: "windows", tools: map[string]string{"manage-bde -status C:": "manage-bde.txt"}},
		{name: "macos", goos: "darwin", tools: map[string]string{
			"socketfilterfw --getglobalstate": "socketfilterfw.txt", "fdesetup status": "fdesetup.txt",
			"csrutil status": "csrutil.txt", "defaults read /Library/Preferences/com.apple.SoftwareUpdate": "softwareupdate.txt",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "security", tc.name)
			files := map[string]string{}
			for cmd, f := range tc.tools {
				files[cmd] = filepath.Join(dir, f)
			}
			tools := recorded(t, files)
			nft := ""
			if _, err := os.Stat(filepath.Join(dir, "nftables")); err == nil {
				nft = filepath.Join(dir, "nftables")
			}
			p := probe.NewTestSecurity(tc.goos, nft, exportOf(t, filepath.Join(dir, "registry.reg")), tools)
			goldenOrError(t, p, &probe.Env{}, dir)
			if tc.goos != "linux" {
				calls := tools.Calls
				if _, err := p.Collect(context.Background(), &probe.Env{Health: true}); err == nil || tools.Calls != calls {
					t.Errorf("health run: %v, %d tool runs", err, tools.Calls-calls)
				}
			}
		})
	}
}

// TestSecurityHost runs the probe on this machine: every part answers,
// and the nftables ruleset is read.
func TestSecurityHost(t *testing.T) {
	p, _ := probe.New("security")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.SecurityResult)
	if len(r.Errors) > 0 || r.Firewall == nil || r.DiskEncryption == nil || r.SecureBoot == nil || r.AutoUpdates == nil || r.ScreenLock == nil {
		t.Fatalf("security probe here: %+v", r)
	}
	if r.Firewall.NFTables == nil || r.Firewall.Active == nil || r.Firewall.Why == "" {
		t.Errorf("firewall: %+v", r.Firewall)
	}
	if _, err := os.Stat("/sys/firmware/efi"); os.IsNotExist(err) && r.SecureBoot.Boot != "legacy-bios" {
		t.Errorf("no /sys/firmware/efi here, yet %+v", r.SecureBoot)
	}
	t.Logf("firewall %s; disk %+v; boot %+v; updates %+v", r.Firewall.Why, *r.DiskEncryption, *r.SecureBoot, *r.AutoUpdates)
}

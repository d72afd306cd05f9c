package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

// storageFixture fakes the storage-health probe's ioctl and tools with a
// case's recorded output: <dev>.smart-log for the NVMe health log of
// root/dev/<dev>, smartctl-<disk>.json for smartctl on root/dev/<disk>,
// and <tool>.json for PowerShell or system_profiler (whose presence makes
// the case a Windows or macOS one). Calls lists the tools run.
type storageFixture struct {
	dir, root string
	goos      string
	calls     []string
}

func newStorageFixture(dir string) *storageFixture {
	f := &storageFixture{dir: dir, root: filepath.Join(dir, "root"), goos: "linux"}
	if _, err := os.Stat(filepath.Join(dir, "powershell.exe.json")); err == nil {
		f.goos = "windows"
	}
	if _, err := os.Stat(filepath.Join(dir, "system_profiler.json")); err == nil {
		f.goos = "darwin"
	}
	return f
}

func (f *storageFixture) probe() probe.Probe {
	return probe.NewTestStorage(probe.StorageFakes{GOOS: f.goos, SmartLog: f.smartLog, Tool: f.tool})
}

// hostDevice returns the name of a device under the case's /dev.
func (f *storageFixture) hostDevice(dev string) (string, error) {
	name, ok := strings.CutPrefix(dev, f.root+"/dev/")
	if !ok || strings.Contains(name, "/") {
		return "", fmt.Errorf("device %s is not in the host's /dev", dev)
	}
	return name, nil
}

func (f *storageFixture) smartLog(dev string) ([]byte, error) {
	name, err := f.hostDevice(dev)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(f.dir, name+".smart-log"))
}

func (f *storageFixture) tool(_ context.Context, limit int, name string, args ...string) ([]byte, bool, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	file := name + ".json"
	if name == "smartctl" {
		if len(args) != 5 || !slices.Equal(args[:4], []string{"--json", "-H", "-A", "-i"}) {
			return nil, false, fmt.Errorf("smartctl with unexpected arguments %q", args)
		}
		disk, err := f.hostDevice(args[4])
		if err != nil {
			return nil, false, err
		}
		file = "smartctl-" + disk + ".json"
	}
	out, err := os.ReadFile(filepath.Join(f.dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("%w: %s is not installed", probe.ErrNotAvailable, name)
	}
	if err != nil || len(out) > limit {
		return nil, false, fmt.Errorf("reading %s (limit %d): %v", file, limit, err)
	}
	// smartctl exits with its status bits, output whole, as runTool
	// reports it.
	var status struct {
		Smartctl struct {
			ExitStatus int `json:"exit_status"`
		} `json:"smartctl"`
	}
	if json.Unmarshal(out, &status) == nil && status.Smartctl.ExitStatus != 0 {
		return out, false, fmt.Errorf("smartctl: exit status %d", status.Smartctl.ExitStatus)
	}
	return out, false, nil
}

func TestStorageHealth(t *testing.T) {
	for _, dir := range cases(t, "storage-health") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequence(t, newStorageFixture(dir).probe, dir)
		})
	}
}

// collectStorage runs the storage-health probe of a fixture case.
func collectStorage(t *testing.T, name string, health bool) (*probe.StorageResult, *storageFixture) {
	t.Helper()
	f := newStorageFixture(filepath.Join("testdata", "storage-health", name))
	v, err := f.probe().Collect(probe.WithRoot(context.Background(), f.root), &probe.Env{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	return v.(*probe.StorageResult), f
}

// TestStorageHealthLaptop checks the worn NVMe drive of the laptop case.
func TestStorageHealthLaptop(t *testing.T) {
	r, _ := collectStorage(t, "laptop", false)
	if len(r.Disks) != 1 || r.Disks[0].NVMe == nil {
		t.Fatalf("disks %+v", r.Disks)
	}
	d := r.Disks[0]
	h := d.NVMe
	if d.Model != "SAMSUNG MZVLB512HBJQ-000L7" || d.Serial != "S4ENNX0R123456" || *d.SmartPassed {
		t.Errorf("disk %+v", d)
	}
	if h.PercentageUsed != 97 || h.MediaErrors != 14 || *h.TemperatureC != 45 || h.PowerOnHours != 11872 ||
		!slices.Equal(h.Warnings, []string{"reliability_degraded"}) || h.BytesWritten != 566406250*512000 {
		t.Errorf("NVMe health %+v", h)
	}
	if r.Unavailable["ata"] == "" {
		t.Errorf("a laptop without SATA disks does not say so: %v", r.Unavailable)
	}
}

// TestStorageHealthServer checks the failing SATA disk and the SAS disk
// of the server case, and that the health variant runs no tool.
func TestStorageHealthServer(t *testing.T) {
	r, f := collectStorage(t, "server", false)
	if len(f.calls) != 3 {
		t.Errorf("tools run: %q", f.calls)
	}
	if len(r.Disks) != 3 {
		t.Fatalf("disks %+v", r.Disks)
	}
	sdb := r.Disks[1]
	if sdb.Name != "sdb" || sdb.SmartPassed == nil || *sdb.SmartPassed || sdb.ATA == nil || sdb.Error != "" {
		t.Fatalf("sdb %+v", sdb)
	}
	if *sdb.ATA.ReallocatedSectors != 3896 || *sdb.ATA.PendingSectors != 64 || *sdb.ATA.OfflineUncorrectable != 64 ||
		*sdb.ATA.ReportedUncorrect != 312 || *sdb.PowerOnHours != 35412 || *sdb.TemperatureC != 36 {
		t.Errorf("sdb ATA %+v", sdb.ATA)
	}
	var failing []int
	for _, a := range sdb.ATA.Attributes {
		if a.WhenFailed != "" {
			failing = append(failing, a.ID)
		}
	}
	if !slices.Equal(failing, []int{5}) {
		t.Errorf("failing attributes %v", failing)
	}
	sdc := r.Disks[2]
	if sdc.Protocol != "scsi" || sdc.Model != "HGST HUS726T4TAL5204" || *sdc.SCSI.GrownDefects != 12 || *sdc.SCSI.ReadUncorrected != 2 {
		t.Errorf("sdc %+v %+v", sdc, sdc.SCSI)
	}

	h, f := collectStorage(t, "server", true)
	if len(f.calls) != 0 || len(h.Disks) != 0 || h.Unavailable["smartctl"] == "" {
		t.Errorf("health variant ran %q, gave %+v", f.calls, h)
	}
}

// TestStorageHealthNoSmartctl lists the SATA disks without health, and
// tries smartctl once, when it is not installed.
func TestStorageHealthNoSmartctl(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"sda", "sdb"} {
		dir := filepath.Join(root, "sys/block", name, "device")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model"), []byte("WDC WD40EFRX-68N\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &storageFixture{dir: t.TempDir(), root: root, goos: "linux"}
	v, err := f.probe().Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.StorageResult)
	if len(f.calls) != 1 || len(r.Disks) != 2 || r.Disks[1].Model != "WDC WD40EFRX-68N" || r.Disks[1].SmartPassed != nil ||
		!strings.Contains(r.Unavailable["smartctl"], "not available here") {
		t.Errorf("calls %q, result %+v", f.calls, r)
	}
}

// TestStorageHealthHost runs the registered probe on this machine: heavy,
// and "not available here" when it has neither NVMe nor SATA disks.
func TestStorageHealthHost(t *testing.T) {
	spec, ok := probe.SpecOf("storage-health")
	if !ok || !spec.Heavy {
		t.Fatalf("storage-health: registered %v, heavy %v", ok, spec.Heavy)
	}
	p, _ := probe.New("storage-health")
	for _, health := range []bool{false, true} {
		v, err := p.Collect(context.Background(), &probe.Env{Health: health})
		if err != nil {
			if !errors.Is(err, probe.ErrNotAvailable) {
				t.Fatalf("storage-health on this host (health %v): %v", health, err)
			}
			t.Logf("storage-health on this host (health %v): %v", health, err)
			continue
		}
		b, _ := json.Marshal(v)
		t.Logf("storage-health on this host (health %v): %s", health, b)
	}
}

package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

// hardwareCase returns a hardware probe for a fixture case: a Windows one
// when the case has registry.json (and power.json), a macOS one when it
// has sysctl.json, else a Linux one reading root/sys.
func hardwareCase(t testing.TB, dir string) func() probe.Probe {
	t.Helper()
	f := probe.HardwareFakes{GOOS: "linux"}
	if reg, ok := readJSON[map[string]map[string]string](t, filepath.Join(dir, "registry.json")); ok {
		f.GOOS = "windows"
		f.RegValues = func(path string) (map[string]string, error) {
			if v, ok := reg[path]; ok {
				return v, nil
			}
			return nil, fmt.Errorf("opening %s: %w", path, fs.ErrNotExist)
		}
		st, ok := readJSON[probe.SystemPowerStatus](t, filepath.Join(dir, "power.json"))
		f.PowerStatus = func() (probe.SystemPowerStatus, error) {
			if !ok {
				return st, errors.New("the device is not ready")
			}
			return st, nil
		}
	}
	if sc, ok := readJSON[map[string]string](t, filepath.Join(dir, "sysctl.json")); ok {
		f.GOOS = "darwin"
		f.Sysctl = func(name string) (string, error) {
			if v, ok := sc[name]; ok {
				return v, nil
			}
			return "", errors.New("no such file or directory")
		}
	}
	return func() probe.Probe { return probe.NewTestHardware(f) }
}

// readJSON decodes a fixture file; false when there is none.
func readJSON[T any](t testing.TB, path string) (T, bool) {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return v, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v, true
}

func TestHardware(t *testing.T) {
	for _, dir := range cases(t, "hardware") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequence(t, hardwareCase(t, dir), dir)
		})
	}
}

// collectHardware runs the hardware probe of a fixture case.
func collectHardware(t *testing.T, name string, health bool) any {
	t.Helper()
	dir := filepath.Join("testdata", "hardware", name)
	p := hardwareCase(t, dir)()
	v, err := p.Collect(probe.WithRoot(context.Background(), filepath.Join(dir, "root")), &probe.Env{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHardwareLaptop checks what L2 asks of a laptop whose battery dies
// by noon, beyond the golden file.
func TestHardwareLaptop(t *testing.T) {
	r := collectHardware(t, "laptop", false).(*probe.HardwareResult)
	if r.System.Serial != "PF2XK9ZT" || r.System.ChassisType != "notebook" || r.BIOS.Version != "N32ET86W (1.62 )" {
		t.Errorf("system %+v, bios %+v", r.System, r.BIOS)
	}
	if len(r.Power.Batteries) != 1 || len(r.Power.Peripherals) != 1 {
		t.Fatalf("batteries %+v, peripherals %+v", r.Power.Batteries, r.Power.Peripherals)
	}
	b := r.Power.Batteries[0]
	if *b.HealthPercent != 62 || *b.CycleCount != 900 || *b.HoursToEmpty != 1.43 || *b.PowerMW != 9874 {
		t.Errorf("battery health %v %%, %v cycles, %v h left at %v mW", *b.HealthPercent, *b.CycleCount, *b.HoursToEmpty, *b.PowerMW)
	}
	if r.Power.OnAC == nil || *r.Power.OnAC {
		t.Errorf("on AC: %v", r.Power.OnAC)
	}
	var ports []string
	for _, d := range r.USB {
		ports = append(ports, d.Port)
	}
	// Root hubs, the dock's hub and the interfaces are left out.
	if want := []string{"1-10", "1-2", "1-4", "2-1.1"}; !slices.Equal(ports, want) {
		t.Errorf("USB ports %v, want %v", ports, want)
	}
	if len(r.GPUs) != 1 || r.GPUs[0].Driver != "i915" || r.GPUs[0].PCISlot != "0000:00:02.0" || !r.GPUs[0].BootVGA {
		t.Errorf("GPUs %+v", r.GPUs)
	}
	h := collectHardware(t, "laptop", true).(*probe.HardwareHealth)
	if len(h.Power.Batteries) != 1 || *h.Power.Batteries[0].CapacityPercent != 40 {
		t.Errorf("health %+v", h)
	}
}

// TestHardwareServer checks a rack server without a battery.
func TestHardwareServer(t *testing.T) {
	r := collectHardware(t, "server", false).(*probe.HardwareResult)
	if r.System.ChassisType != "rack mount chassis" || r.System.Serial != "7XK2M53" || r.Board.Name != "0WGD1" {
		t.Errorf("system %+v, board %+v", r.System, r.Board)
	}
	if len(r.Power.Batteries) != 0 || r.Power.OnAC != nil || r.Unavailable["battery"] == "" {
		t.Errorf("power %+v, unavailable %v", r.Power, r.Unavailable)
	}
	if len(r.GPUs) != 1 || r.GPUs[0].Vendor != "Matrox" || r.GPUs[0].Driver != "mgag200" {
		t.Errorf("GPUs %+v", r.GPUs)
	}
}

// TestHardwareHost runs the registered probe on this machine: it reports
// what the host has and says "not available here" for the rest.
func TestHardwareHost(t *testing.T) {
	p, ok := probe.New("hardware")
	if !ok {
		t.Fatal("hardware probe not registered")
	}
	spec, _ := probe.SpecOf("hardware")
	if spec.Heavy {
		t.Error("hardware is heavy: it should run in default snapshots")
	}
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		if !errors.Is(err, probe.ErrNotAvailable) {
			t.Fatalf("hardware on this host: %v", err)
		}
		t.Logf("hardware on this host: %v", err)
		return
	}
	b, _ := json.Marshal(v)
	t.Logf("hardware on this host: %s", b)
	if runtime.GOOS == "linux" {
		r := v.(*probe.HardwareResult)
		if _, err := os.Stat("/sys/class/dmi/id"); err != nil && r.Unavailable["dmi"] == "" {
			t.Errorf("no DMI here, but the result does not say so: %s", b)
		}
	}
	if _, err := p.Collect(context.Background(), &probe.Env{Health: true}); err != nil {
		t.Errorf("health: %v", err)
	}
}

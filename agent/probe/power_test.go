package probe

import (
	"context"
	"path/filepath"
	"testing"
)

// TestReadPowerSource reads the recorded laptop (on battery at 40 %, its
// adapter offline, a mouse's battery beside it) and a server (no battery).
func TestReadPowerSource(t *testing.T) {
	for dir, want := range map[string]PowerSource{
		"laptop": {Known: true, OnBattery: true, Percent: 40},
		"server": {Known: true},
	} {
		ctx := WithRoot(context.Background(), filepath.Join("testdata", "hardware", dir, "root"))
		if got := ReadPowerSource(ctx); got != want {
			t.Errorf("%s: %+v, want %+v", dir, got, want)
		}
	}
}

// TestPowerSourceOf: an adapter online is mains whatever the batteries
// say; Windows' one summed battery reads like Linux's; a battery that
// gives no charge leaves the source unknown.
func TestPowerSourceOf(t *testing.T) {
	pct := func(n int) *int { return &n }
	win := func(st SystemPowerStatus) *HardwarePower {
		r := newHardwareResult()
		powerFromStatus(st, r)
		return &r.Power
	}
	for name, tc := range map[string]struct {
		p    *HardwarePower
		want PowerSource
	}{
		"adapter online": {&HardwarePower{OnAC: new(true), Batteries: []Battery{{Status: "Discharging", CapacityPercent: pct(5)}}}, PowerSource{Known: true}},
		"two batteries":  {&HardwarePower{Batteries: []Battery{{Status: "Discharging", CapacityPercent: pct(10)}, {Status: "Unknown", CapacityPercent: pct(31)}}}, PowerSource{Known: true, OnBattery: true, Percent: 20}},
		"full, idle":     {&HardwarePower{OnAC: new(false), Batteries: []Battery{{Status: "Full", CapacityPercent: pct(100)}}}, PowerSource{Known: true}},
		"no charge":      {&HardwarePower{Batteries: []Battery{{Status: "Discharging"}}}, PowerSource{OnBattery: true}},
		"windows, battery": {win(SystemPowerStatus{ACLineStatus: 0, BatteryFlag: 0x02, BatteryLifePercent: 14}),
			PowerSource{Known: true, OnBattery: true, Percent: 14}},
		"windows, mains":   {win(SystemPowerStatus{ACLineStatus: 1, BatteryFlag: 0x08, BatteryLifePercent: 14}), PowerSource{Known: true}},
		"windows, desktop": {win(SystemPowerStatus{ACLineStatus: 1, BatteryFlag: 0x80, BatteryLifePercent: 255}), PowerSource{Known: true}},
	} {
		if got := powerSourceOf(tc.p); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

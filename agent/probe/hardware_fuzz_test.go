package probe

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzAttrs are the attributes the fuzzed sysfs and registry readers are
// given, in the order the fuzz input's NUL-separated values fill them.
var fuzzAttrs = []string{
	"sys_vendor", "product_name", "product_serial", "chassis_type", "bios_date",
	"type", "status", "scope", "present", "capacity", "cycle_count", "health",
	"energy_now", "energy_full", "energy_full_design", "power_now",
	"charge_now", "charge_full", "charge_full_design", "current_now", "voltage_now",
	"bDeviceClass", "idVendor", "speed", "vendor", "boot_vga",
	"SystemManufacturer", "DriverDesc", "MatchingDeviceId",
}

// attrSeed joins the fixture attributes found in dirs, as fuzz input.
func attrSeed(dirs ...string) []byte {
	vals := make([][]byte, len(fuzzAttrs))
	for i, name := range fuzzAttrs {
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
				vals[i] = b
			}
		}
	}
	return bytes.Join(vals, []byte{0})
}

// FuzzHardwareAttributes feeds arbitrary attribute contents to the DMI,
// power supply, USB, DRM and registry parsers: they never panic, and what
// they return is bounded, valid UTF-8 and encodes as JSON.
func FuzzHardwareAttributes(f *testing.F) {
	sys := filepath.Join("testdata", "hardware", "laptop", "root", "sys")
	f.Add(attrSeed(filepath.Join(sys, "class/dmi/id"), filepath.Join(sys, "class/power_supply/BAT0")))
	f.Add(attrSeed(filepath.Join(sys, "class/power_supply/hidpp_battery_0"), filepath.Join(sys, "bus/usb/devices/1-2")))
	f.Add(attrSeed(filepath.Join(sys, "class/drm/card0/device")))
	if b, err := os.ReadFile(filepath.Join(sys, "class/power_supply/BAT0/uevent")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("\x00\x00\x00-3\x00\x00Discharging\x00\x00\x00101\x00-1\x00\x00-5\x00" +
		"9223372036854775807\x000\x00-9223372036854775808\x00\x00\x00\x00-1\x00-7"))
	f.Fuzz(func(t *testing.T, in []byte) {
		parts := bytes.Split(in, []byte{0})
		values := map[string]string{}
		for i, name := range fuzzAttrs {
			if i < len(parts) {
				values[name] = string(parts[i])
			}
		}
		read := attrReader(func(name string) (string, bool) {
			v, ok := values[name]
			return v[:min(len(v), 4*maxHWText)], ok
		})
		s, bios, board := dmiFrom(read)
		var p HardwarePower
		addSupply(&p, string(in[:min(len(in), 300)]), read)
		usb, _ := usbFrom("1-2", read)
		gpu := gpuFrom("card0", "0000:00:02.0", "i915", read)
		ws, wbios, wboard := biosFromRegistry(values)
		wgpu, _ := gpuFromRegistry(values)
		// The same input as a uevent file.
		props := parseSupplyUevent(in)
		ub := batteryFrom("BAT0", func(name string) (string, bool) { v, ok := props[name]; return v, ok })
		if len(props) > 64 {
			t.Errorf("%d uevent properties", len(props))
		}
		checkBounded(t, []any{s, bios, board, p, usb, gpu, ws, wbios, wboard, wgpu, ub}, 16<<10)
		for _, b := range p.Batteries {
			if c := b.CapacityPercent; c != nil && (*c < 0 || *c > 100) {
				t.Errorf("capacity %d %%", *c)
			}
			if h := b.HealthPercent; h != nil && (*h < 0 || *h > 1000) {
				t.Errorf("health %v %%", *h)
			}
			if h := b.HoursToEmpty; h != nil && *h < 0 {
				t.Errorf("%v hours to empty", *h)
			}
		}
		if s.ChassisTypeID < 0 || s.ChassisTypeID > 255 {
			t.Errorf("chassis type %d", s.ChassisTypeID)
		}
	})
}

// FuzzPowerStatus checks any SYSTEM_POWER_STATUS gives a sane battery.
func FuzzPowerStatus(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(38), uint32(5160))
	f.Add(uint8(1), uint8(8), uint8(100), uint32(0xffffffff))
	f.Add(uint8(255), uint8(128), uint8(255), uint32(0))
	f.Fuzz(func(t *testing.T, ac, flag, percent uint8, life uint32) {
		r := newHardwareResult()
		powerFromStatus(SystemPowerStatus{ACLineStatus: ac, BatteryFlag: flag, BatteryLifePercent: percent, BatteryLifeTime: life}, r)
		checkBounded(t, r, 4<<10)
		if len(r.Power.Batteries) > 1 || len(r.Power.Batteries) == 0 && r.Unavailable["battery"] == "" {
			t.Errorf("power %+v, unavailable %v", r.Power, r.Unavailable)
		}
	})
}

// checkBounded fails when v does not encode as JSON within limit bytes,
// or holds a string that is invalid UTF-8, longer than the protocol's text
// limit, or has control characters.
func checkBounded(t *testing.T, v any, limit int) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	if len(b) > limit {
		t.Errorf("%d bytes of JSON, limit %d", len(b), limit)
	}
	walkStrings(reflect.ValueOf(v), func(s string) {
		if !utf8.ValidString(s) || len(s) > 1024 || strings.ContainsAny(s, "\x00\n\r\t\x1b") {
			t.Errorf("string %q", s)
		}
	})
}

// walkStrings calls fn with every string in v, map keys included.
func walkStrings(v reflect.Value, fn func(string)) {
	switch v.Kind() {
	case reflect.String:
		fn(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			walkStrings(v.Field(i), fn)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkStrings(v.Index(i), fn)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			walkStrings(it.Key(), fn)
			walkStrings(it.Value(), fn)
		}
	}
}

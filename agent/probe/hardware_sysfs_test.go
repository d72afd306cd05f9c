package probe

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestSupplyUevent checks that a battery read from its uevent file (one
// read) equals the battery read one attribute file at a time, and that
// a uevent without the type (kernels before 5.x) takes it from its file.
func TestSupplyUevent(t *testing.T) {
	dir := filepath.Join("testdata", "hardware", "laptop", "root", "sys", "class", "power_supply")
	for _, name := range []string{"BAT0", "AC", "hidpp_battery_0"} {
		files, uevent := sysfsAttrs(filepath.Join(dir, name)), supplyAttrs(filepath.Join(dir, name))
		if files.text("type") == "" || uevent.text("type") != files.text("type") {
			t.Errorf("%s: type %q from files, %q from uevent", name, files.text("type"), uevent.text("type"))
		}
		if a, b := batteryFrom(name, files), batteryFrom(name, uevent); !reflect.DeepEqual(a, b) {
			t.Errorf("%s from files:\n%+v\nfrom uevent:\n%+v", name, a, b)
		}
	}
	props := parseSupplyUevent([]byte("POWER_SUPPLY_NAME=x\nPOWER_SUPPLY_CHARGE_FULL=4\nDEVTYPE=y\nPOWER_SUPPLY_STATUS\n"))
	if want := map[string]string{"name": "x", "charge_full": "4"}; !reflect.DeepEqual(props, want) {
		t.Errorf("uevent %v, want %v", props, want)
	}
}

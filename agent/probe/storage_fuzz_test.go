package probe

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFiles adds the fixture files matching pattern to f's corpus.
func seedFiles(f *testing.F, pattern string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "storage-health", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed matches %s", pattern)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzNVMeSmartLog checks that any 512 bytes parse, and any other length
// is refused, without panicking.
func FuzzNVMeSmartLog(f *testing.F) {
	seedFiles(f, "*/*.smart-log")
	f.Add(make([]byte, nvmeLogSize))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseNVMeSmartLog(b)
		if len(b) != nvmeLogSize {
			if err == nil {
				t.Fatalf("%d bytes parsed", len(b))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Warnings) > len(nvmeWarnings) || len(h.SensorsC) > 8 || h.BytesRead < h.DataUnitsRead {
			t.Errorf("parsed %+v", h)
		}
		d := StorageDisk{NVMe: h}
		d.fromNVMe()
		checkBounded(t, d, 4<<10)
	})
}

// FuzzSmartctlJSON feeds arbitrary JSON to the smartctl parser.
func FuzzSmartctlJSON(f *testing.F) {
	seedFiles(f, "*/smartctl-*.json")
	f.Add([]byte(`{"smartctl":{"exit_status":2,"messages":[{"string":"Smartctl open device: /dev/sdz failed: No such device"}]}}`))
	f.Add([]byte(`{"ata_smart_attributes":{"table":[{"id":5,"raw":{"value":1}},{"id":5,"thresh":9,"value":9}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := StorageDisk{Name: "sda", Model: "sysfs model"}
		if err := parseSmartctl(b, &d); err != nil {
			return
		}
		if d.ATA != nil && len(d.ATA.Attributes) > maxATAAttributes {
			t.Errorf("%d attributes", len(d.ATA.Attributes))
		}
		checkBounded(t, d, 16<<10)
	})
}

// FuzzWindowsStorageJSON feeds arbitrary JSON to the PowerShell parser.
func FuzzWindowsStorageJSON(f *testing.F) {
	seedFiles(f, "*/powershell.exe.json")
	f.Add([]byte(`{"disks":{"DeviceId":"0","Size":"12","Wear":1e3},"predict":{"PredictFailure":true},"system":{"ChassisTypes":9},"batteries":{"DesignedCapacity":"0"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzStorageParser(t, parseWindowsStorage, b)
	})
}

// FuzzProfilerJSON feeds arbitrary JSON to the system_profiler parser.
func FuzzProfilerJSON(f *testing.F) {
	seedFiles(f, "*/system_profiler.json")
	f.Add([]byte(`{"SPPowerDataType":[{"_name":"spbattery_information","sppower_battery_health_info":{"sppower_battery_health_maximum_capacity":"NaN%"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzStorageParser(t, parseProfiler, b)
	})
}

// fuzzStorageParser checks one tool parser's result stays in its bounds.
func fuzzStorageParser(t *testing.T, parse func([]byte, *StorageResult) error, b []byte) {
	r := &StorageResult{Disks: []StorageDisk{}, Unavailable: map[string]string{}}
	if err := parse(b, r); err != nil {
		return
	}
	if len(r.Disks) > maxStorageDisks || len(r.FailurePredictions) > maxStorageDisks ||
		r.System != nil && len(r.System.Batteries) > 4 {
		t.Errorf("%d disks, %d predictions, system %+v", len(r.Disks), len(r.FailurePredictions), r.System)
	}
	checkBounded(t, r, 256<<10)
}

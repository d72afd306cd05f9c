package probe

import (
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestParseNVMeSmartLog lays out a health log field by field, each with
// its own value, at the offsets of the NVMe base specification.
func TestParseNVMeSmartLog(t *testing.T) {
	b := make([]byte, nvmeLogSize)
	b[0] = 0x01 | 0x08 | 0x10 // spare, read-only, volatile backup
	binary.LittleEndian.PutUint16(b[1:], 273+61)
	b[3], b[4], b[5] = 7, 10, 121
	u128 := func(off int, lo, hi uint64) {
		binary.LittleEndian.PutUint64(b[off:], lo)
		binary.LittleEndian.PutUint64(b[off+8:], hi)
	}
	for i, off := range []int{32, 48, 64, 80, 96, 112, 128, 144, 160, 176} {
		u128(off, uint64(1000+i), 0)
	}
	u128(48, 42, 1) // past 2^64: saturates
	binary.LittleEndian.PutUint32(b[192:], 77)
	binary.LittleEndian.PutUint32(b[196:], 3)
	binary.LittleEndian.PutUint16(b[200:], 273+40) // sensor 1
	binary.LittleEndian.PutUint16(b[206:], 273+55) // sensor 4; 2 and 3 absent

	h, err := parseNVMeSmartLog(b)
	if err != nil {
		t.Fatal(err)
	}
	want := NVMeHealth{
		CriticalWarning: 0x19, AvailableSpare: 7, SpareThreshold: 10, PercentageUsed: 121,
		DataUnitsRead: 1000, DataUnitsWritten: math.MaxUint64, HostReadCommands: 1002, HostWriteCommands: 1003,
		ControllerBusyMinutes: 1004, PowerCycles: 1005, PowerOnHours: 1006, UnsafeShutdowns: 1007,
		MediaErrors: 1008, ErrorLogEntries: 1009, WarningTempMinutes: 77, CriticalTempMinutes: 3,
		BytesRead: 1000 * 512000, BytesWritten: math.MaxUint64,
	}
	got := *h
	if *got.TemperatureC != 61 || !slices.Equal(got.SensorsC, []int{40, 55}) ||
		!slices.Equal(got.Warnings, []string{"spare_below_threshold", "read_only", "volatile_backup_failed"}) {
		t.Errorf("temperature %d, sensors %v, warnings %v", *got.TemperatureC, got.SensorsC, got.Warnings)
	}
	got.TemperatureC, got.SensorsC, got.Warnings = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}

	for _, n := range []int{0, 511, 513, 4096} {
		if _, err := parseNVMeSmartLog(make([]byte, n)); err == nil {
			t.Errorf("a log of %d bytes parsed", n)
		}
	}
	// A zeroed log reports no temperature rather than -273 °C.
	if h, _ := parseNVMeSmartLog(make([]byte, nvmeLogSize)); h.TemperatureC != nil || h.SensorsC != nil {
		t.Errorf("zeroed log: %+v", h)
	}
}

// TestParseWindowsStorageShapes feeds the shapes PowerShell writes
// besides lists: a lone object for a list of one, numbers as text, nulls.
func TestParseWindowsStorageShapes(t *testing.T) {
	in := `{"disks":{"DeviceId":3,"FriendlyName":"WDC WD10EZEX","MediaType":"3","BusType":"11","HealthStatus":"2",` +
		`"Size":"1000204886016","Temperature":0,"Wear":12,"PowerOnHours":"4410"},` +
		`"predict":{"InstanceName":"IDE\\Disk","PredictFailure":true,"Reason":"5"},"system":null,"batteries":null}`
	var r StorageResult
	if err := parseWindowsStorage([]byte("\xef\xbb\xbf"+in), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Disks) != 1 || len(r.FailurePredictions) != 1 || r.System != nil {
		t.Fatalf("result %+v", r)
	}
	d := r.Disks[0]
	if d.Name != "PhysicalDisk3" || d.Protocol != "sata" || d.Status != "Unhealthy" || *d.SmartPassed ||
		d.CapacityBytes != 1000204886016 || d.TemperatureC != nil || d.PercentageUsed != nil || *d.PowerOnHours != 4410 ||
		d.Windows.MediaType != "HDD" {
		t.Errorf("disk %+v %+v", d, d.Windows)
	}
	if p := r.FailurePredictions[0]; !p.PredictFailure || p.Reason != 5 {
		t.Errorf("prediction %+v", p)
	}
	if err := parseWindowsStorage([]byte("WARNING: not JSON"), &r); err == nil {
		t.Error("text that is not JSON parsed")
	}
}

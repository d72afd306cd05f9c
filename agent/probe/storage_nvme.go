package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"regexp"

	"github.com/shirou/gopsutil/v3/common"
)

// nvmeLogSize is the size of the SMART / Health Information log page.
const nvmeLogSize = 512

// NVMeHealth is an NVMe controller's SMART / Health Information log (log
// identifier 02h, NVM Express Base Specification). Counters of 128 bits
// saturate at 2^64-1.
type NVMeHealth struct {
	// CriticalWarning is the raw bit field; Warnings names its set bits.
	CriticalWarning uint8    `json:"critical_warning"`
	Warnings        []string `json:"warnings"`
	TemperatureC    *int     `json:"temperature_c,omitempty"`
	// AvailableSpare is the spare capacity left, in percent; below
	// SpareThreshold the controller warns.
	AvailableSpare int `json:"available_spare_percent"`
	SpareThreshold int `json:"available_spare_threshold_percent"`
	// PercentageUsed estimates the endurance used; it may pass 100.
	PercentageUsed int `json:"percentage_used"`
	// Data units are thousands of 512-byte blocks.
	DataUnitsRead         uint64 `json:"data_units_read"`
	DataUnitsWritten      uint64 `json:"data_units_written"`
	BytesRead             uint64 `json:"bytes_read"`
	BytesWritten          uint64 `json:"bytes_written"`
	HostReadCommands      uint64 `json:"host_read_commands"`
	HostWriteCommands     uint64 `json:"host_write_commands"`
	ControllerBusyMinutes uint64 `json:"controller_busy_minutes"`
	PowerCycles           uint64 `json:"power_cycles"`
	PowerOnHours          uint64 `json:"power_on_hours"`
	UnsafeShutdowns       uint64 `json:"unsafe_shutdowns"`
	MediaErrors           uint64 `json:"media_errors"`
	ErrorLogEntries       uint64 `json:"error_log_entries"`
	// Minutes spent above the warning and critical composite temperatures.
	WarningTempMinutes  uint32 `json:"warning_temp_minutes"`
	CriticalTempMinutes uint32 `json:"critical_temp_minutes"`
	// SensorsC are the implemented temperature sensors.
	SensorsC []int `json:"sensors_c,omitempty"`
}

// nvmeWarnings names the critical warning bits, lowest first.
var nvmeWarnings = [...]string{
	"spare_below_threshold", "temperature", "reliability_degraded", "read_only",
	"volatile_backup_failed", "persistent_memory_read_only",
}

// parseNVMeSmartLog takes the SMART / Health Information log page apart.
// Multi-byte fields are little endian.
func parseNVMeSmartLog(b []byte) (*NVMeHealth, error) {
	if len(b) != nvmeLogSize {
		return nil, fmt.Errorf("NVMe health log of %d bytes, want %d", len(b), nvmeLogSize)
	}
	u128 := func(off int) uint64 {
		if binary.LittleEndian.Uint64(b[off+8:]) != 0 {
			return math.MaxUint64
		}
		return binary.LittleEndian.Uint64(b[off:])
	}
	h := &NVMeHealth{
		CriticalWarning: b[0], Warnings: []string{},
		TemperatureC:   kelvinToC(binary.LittleEndian.Uint16(b[1:])),
		AvailableSpare: int(b[3]), SpareThreshold: int(b[4]), PercentageUsed: int(b[5]),
		DataUnitsRead: u128(32), DataUnitsWritten: u128(48),
		HostReadCommands: u128(64), HostWriteCommands: u128(80),
		ControllerBusyMinutes: u128(96), PowerCycles: u128(112), PowerOnHours: u128(128),
		UnsafeShutdowns: u128(144), MediaErrors: u128(160), ErrorLogEntries: u128(176),
		WarningTempMinutes:  binary.LittleEndian.Uint32(b[192:]),
		CriticalTempMinutes: binary.LittleEndian.Uint32(b[196:]),
	}
	for i, name := range nvmeWarnings {
		if h.CriticalWarning&(1<<i) != 0 {
			h.Warnings = append(h.Warnings, name)
		}
	}
	h.BytesRead = times512000(h.DataUnitsRead)
	h.BytesWritten = times512000(h.DataUnitsWritten)
	for i := range 8 {
		if c := kelvinToC(binary.LittleEndian.Uint16(b[200+2*i:])); c != nil {
			h.SensorsC = append(h.SensorsC, *c)
		}
	}
	return h, nil
}

// kelvinToC converts an NVMe temperature; 0 means not reported.
func kelvinToC(k uint16) *int {
	if k == 0 {
		return nil
	}
	return new(int(k) - 273)
}

// times512000 converts data units to bytes, saturating.
func times512000(units uint64) uint64 {
	hi, lo := bits.Mul64(units, 512000)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// nvmeName matches NVMe controller names in /sys/class/nvme.
var nvmeName = regexp.MustCompile(`^nvme[0-9]+$`)

// nvmeDisks reads the health log of each NVMe controller in
// /sys/class/nvme.
func (p *storageProbe) nvmeDisks(ctx context.Context, r *StorageResult) {
	dir := Path(ctx, common.HostSysEnvKey, "class/nvme")
	n := 0
	for _, name := range dirNames(dir, 1024) {
		if !nvmeName.MatchString(name) {
			continue
		}
		if n++; n > maxStorageDisks {
			r.DisksLeftOff++
			continue
		}
		read := sysfsAttrs(dir + "/" + name)
		d := StorageDisk{
			Name: name, Device: "/dev/" + name, Protocol: "nvme",
			Model: read.text("model"), Serial: read.text("serial"), Firmware: read.text("firmware_rev"),
		}
		b, err := p.smartLog(Path(ctx, common.HostDevEnvKey, name))
		if err == nil {
			d.NVMe, err = parseNVMeSmartLog(b)
		}
		if err != nil {
			d.Error = fmt.Sprintf("reading the NVMe health log: %v", err)
		} else {
			d.fromNVMe()
		}
		r.Disks = append(r.Disks, d)
	}
	if n == 0 {
		r.Unavailable["nvme"] = notAvailable("no NVMe controller in /sys/class/nvme").Error()
	}
}

// fromNVMe fills the common fields from the NVMe health log.
func (d *StorageDisk) fromNVMe() {
	h := d.NVMe
	d.SmartPassed = new(h.CriticalWarning == 0)
	d.TemperatureC = h.TemperatureC
	d.PowerOnHours = new(h.PowerOnHours)
	d.PowerCycles = new(h.PowerCycles)
	d.PercentageUsed = new(h.PercentageUsed)
}

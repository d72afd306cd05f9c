package probe

import (
	"context"
)

func init() {
	Register("hardware", Spec{Platforms: Everywhere}, newHardware)
}

// hardwareProbe says which machine this is (vendor, model, serial,
// firmware), how its battery has aged and what is plugged in. It reads
// files and system calls only, so it runs in every default snapshot; what a
// platform gives only through a tool is in the storage-health probe.
type hardwareProbe struct {
	// goos selects the platform's sources, so that tests run the Windows
	// and macOS paths on recorded data.
	goos string
	// regValues returns the values of a registry key ("HKLM\\HARDWARE\\...")
	// as text (Windows).
	regValues func(path string) (map[string]string, error)
	// powerStatus is GetSystemPowerStatus (Windows).
	powerStatus func() (SystemPowerStatus, error)
	// sysctl reads a string sysctl such as hw.model (macOS).
	sysctl func(name string) (string, error)
	// dmi is the DMI tables, read on the first run (Linux).
	dmi *dmiTables
}

// Bounds of the hardware result.
const (
	maxHWText      = 128 // bytes of one string read from the host
	maxUSBDevices  = 64
	maxGPUs        = 8
	maxPowerSupply = 16
)

// HardwareResult is the hardware probe's full result. Unavailable names
// each section this machine has no data for ("dmi", "serial", "battery",
// "usb", "gpu") and why.
type HardwareResult struct {
	System      HardwareSystem    `json:"system"`
	BIOS        HardwareBIOS      `json:"bios"`
	Board       HardwareBoard     `json:"board"`
	Power       HardwarePower     `json:"power"`
	USB         []USBDevice       `json:"usb"`
	USBLeftOff  int               `json:"usb_left_off,omitempty"`
	GPUs        []GPU             `json:"gpus"`
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// HardwareHealth is the hardware probe's light result: the power figures
// that change by the minute.
type HardwareHealth struct {
	Power       HardwarePower     `json:"power"`
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// HardwareSystem names the machine: what L2 needs for a warranty check.
type HardwareSystem struct {
	Vendor  string `json:"vendor,omitempty"`
	Model   string `json:"model,omitempty"`
	Version string `json:"version,omitempty"`
	Family  string `json:"family,omitempty"`
	SKU     string `json:"sku,omitempty"`
	Serial  string `json:"serial,omitempty"`
	// ChassisType is the SMBIOS enclosure type as a word ("notebook",
	// "rack mount chassis"); ChassisTypeID is its number.
	ChassisType   string `json:"chassis_type,omitempty"`
	ChassisTypeID int    `json:"chassis_type_id,omitempty"`
	// CPU is the processor's brand (macOS, where the model is a code).
	CPU string `json:"cpu,omitempty"`
}

// HardwareBIOS is the system firmware.
type HardwareBIOS struct {
	Vendor  string `json:"vendor,omitempty"`
	Version string `json:"version,omitempty"`
	// Date is the release date as the firmware writes it (MM/DD/YYYY).
	Date string `json:"date,omitempty"`
}

// HardwareBoard is the main board.
type HardwareBoard struct {
	Vendor  string `json:"vendor,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// HardwarePower is the machine's batteries and power adapters.
type HardwarePower struct {
	// OnAC says whether an adapter feeds the machine; absent when it has
	// no adapter that says.
	OnAC      *bool     `json:"on_ac,omitempty"`
	Batteries []Battery `json:"batteries"`
	// Peripherals are the batteries of wireless mice, keyboards and the
	// like (power_supply scope "Device"), which do not power the machine.
	Peripherals []Battery      `json:"peripheral_batteries,omitempty"`
	Adapters    []PowerAdapter `json:"adapters,omitempty"`
}

// Battery is one battery's state and wear. HealthPercent is its full
// charge capacity over its design capacity: 62 means it holds 62 % of
// what it held new.
type Battery struct {
	Name            string   `json:"name"`
	Present         *bool    `json:"present,omitempty"`
	Status          string   `json:"status,omitempty"`
	CapacityPercent *int     `json:"capacity_percent,omitempty"`
	CapacityLevel   string   `json:"capacity_level,omitempty"`
	HealthPercent   *float64 `json:"health_percent,omitempty"`
	// Condition is the battery's own word on its health (Linux's health
	// attribute, macOS "Service Recommended").
	Condition  string  `json:"condition,omitempty"`
	CycleCount *uint64 `json:"cycle_count,omitempty"`
	// Energy in milliwatt-hours, or charge in milliampere-hours when the
	// battery counts charge.
	EnergyNowMWh    *uint64 `json:"energy_now_mwh,omitempty"`
	EnergyFullMWh   *uint64 `json:"energy_full_mwh,omitempty"`
	EnergyDesignMWh *uint64 `json:"energy_full_design_mwh,omitempty"`
	ChargeNowMAh    *uint64 `json:"charge_now_mah,omitempty"`
	ChargeFullMAh   *uint64 `json:"charge_full_mah,omitempty"`
	ChargeDesignMAh *uint64 `json:"charge_full_design_mah,omitempty"`
	// PowerMW is the rate of charge or discharge; HoursToEmpty is what is
	// left at that rate while discharging.
	PowerMW      *uint64  `json:"power_mw,omitempty"`
	HoursToEmpty *float64 `json:"hours_to_empty,omitempty"`
	Technology   string   `json:"technology,omitempty"`
	Manufacturer string   `json:"manufacturer,omitempty"`
	Model        string   `json:"model,omitempty"`
	Serial       string   `json:"serial,omitempty"`
}

// PowerAdapter is a mains or USB power supply.
type PowerAdapter struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Online bool   `json:"online"`
}

// USBDevice is one device on a USB bus (hubs left out).
type USBDevice struct {
	// Port is the device's place in the bus topology ("1-2.3").
	Port         string  `json:"port"`
	VendorID     string  `json:"vendor_id,omitempty"`
	ProductID    string  `json:"product_id,omitempty"`
	Manufacturer string  `json:"manufacturer,omitempty"`
	Product      string  `json:"product,omitempty"`
	SpeedMbps    float64 `json:"speed_mbps,omitempty"`
}

// GPU is one graphics adapter.
type GPU struct {
	Card     string `json:"card,omitempty"`
	PCISlot  string `json:"pci_slot,omitempty"`
	VendorID string `json:"vendor_id,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	Vendor   string `json:"vendor,omitempty"`
	// Name is the adapter's marketing name where the platform has one
	// (Windows' driver description).
	Name          string `json:"name,omitempty"`
	Driver        string `json:"driver,omitempty"`
	DriverVersion string `json:"driver_version,omitempty"`
	// BootVGA marks the adapter the firmware showed the boot screen on.
	BootVGA bool `json:"boot_vga,omitempty"`
}

func (p *hardwareProbe) Name() string { return "hardware" }

func (p *hardwareProbe) Collect(ctx context.Context, env *Env) (any, error) {
	var r *HardwareResult
	switch p.goos {
	case "linux":
		r = p.sysfsHardware(ctx, env.Health)
	case "windows":
		r = p.windowsHardware(env.Health)
	case "darwin":
		r = p.darwinHardware(env.Health)
	default:
		return nil, notAvailable("no hardware inventory on %s", p.goos)
	}
	if env.Health {
		h := &HardwareHealth{Power: HardwarePower{OnAC: r.Power.OnAC, Batteries: make([]Battery, len(r.Power.Batteries))}}
		for i, b := range r.Power.Batteries {
			h.Power.Batteries[i] = b.light()
		}
		if why, ok := r.Unavailable["battery"]; ok {
			h.Unavailable = map[string]string{"battery": why}
		}
		return h, nil
	}
	if r.System == (HardwareSystem{}) && len(r.Power.Batteries) == 0 && len(r.Power.Adapters) == 0 &&
		len(r.USB) == 0 && len(r.GPUs) == 0 {
		return nil, notAvailable("no DMI, power supply, USB or GPU data")
	}
	return r, nil
}

// darwinHardware reports what sysctl says: the model code and the
// processor. The serial number, firmware and battery are read through
// IOKit, out of reach without cgo: the storage-health probe gets them from
// system_profiler.
func (p *hardwareProbe) darwinHardware(health bool) *HardwareResult {
	r := newHardwareResult()
	inHeavy := "read by the storage-health probe (system_profiler)"
	r.Unavailable["battery"] = inHeavy
	if health {
		return r
	}
	r.Unavailable["serial"] = inHeavy
	r.Unavailable["bios"] = inHeavy
	r.Unavailable["usb"] = "not read on macOS: IOKit needs cgo"
	r.Unavailable["gpu"] = "not read on macOS: IOKit needs cgo"
	if m, err := p.sysctl("hw.model"); err == nil {
		r.System.Model = cleanText(m, maxHWText)
	} else {
		r.Unavailable["model"] = "sysctl hw.model: " + err.Error()
	}
	if c, err := p.sysctl("machdep.cpu.brand_string"); err == nil {
		r.System.CPU = cleanText(c, maxHWText)
	}
	return r
}

// light keeps what changes by the minute, and the health figure a trend
// of which shows wear.
func (b Battery) light() Battery {
	return Battery{Name: b.Name, Status: b.Status, CapacityPercent: b.CapacityPercent,
		HealthPercent: b.HealthPercent, PowerMW: b.PowerMW, HoursToEmpty: b.HoursToEmpty}
}

func newHardwareResult() *HardwareResult {
	return &HardwareResult{
		Power: HardwarePower{Batteries: []Battery{}},
		USB:   []USBDevice{}, GPUs: []GPU{},
		Unavailable: map[string]string{},
	}
}

// chassisTypes names the SMBIOS system enclosure types (SMBIOS 3.x, type
// 3, "System Enclosure or Chassis Types"), as dmidecode words them.
var chassisTypes = [...]string{
	1: "other", 2: "unknown", 3: "desktop", 4: "low profile desktop", 5: "pizza box",
	6: "mini tower", 7: "tower", 8: "portable", 9: "laptop", 10: "notebook",
	11: "hand held", 12: "docking station", 13: "all in one", 14: "sub notebook",
	15: "space-saving", 16: "lunch box", 17: "main server chassis", 18: "expansion chassis",
	19: "sub chassis", 20: "bus expansion chassis", 21: "peripheral chassis", 22: "raid chassis",
	23: "rack mount chassis", 24: "sealed-case pc", 25: "multi-system", 26: "compactpci",
	27: "advancedtca", 28: "blade", 29: "blade enclosure", 30: "tablet", 31: "convertible",
	32: "detachable", 33: "iot gateway", 34: "embedded pc", 35: "mini pc", 36: "stick pc",
}

// chassisName returns the word for an SMBIOS chassis type number. The
// top bit of the byte flags a chassis lock and is not part of the type.
func chassisName(n int) string {
	n &= 0x7f
	if n > 0 && n < len(chassisTypes) {
		return chassisTypes[n]
	}
	return ""
}

// pciVendors names the PCI vendors of common graphics adapters.
var pciVendors = map[string]string{
	"8086": "Intel", "1002": "AMD", "1022": "AMD", "10de": "NVIDIA", "1a03": "ASPEED",
	"102b": "Matrox", "1af4": "Red Hat (virtio)", "1234": "QEMU", "15ad": "VMware",
	"1414": "Microsoft", "80ee": "VirtualBox", "5143": "Qualcomm", "106b": "Apple",
}

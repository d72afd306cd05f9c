package probe

import (
	"fmt"
	"regexp"
	"strings"
)

// This file reads the hardware inventory on Windows from the registry and
// GetSystemPowerStatus, through the probe's regValues and powerStatus, so
// that it runs on Linux against recorded values too.

// Registry keys the hardware probe reads.
const (
	// biosKey holds the SMBIOS strings Windows copies at boot.
	biosKey = `HKLM\HARDWARE\DESCRIPTION\System\BIOS`
	// displayClassKey holds one subkey (0000, 0001 ...) per display
	// adapter driver.
	displayClassKey = `HKLM\SYSTEM\CurrentControlSet\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}`
)

// SystemPowerStatus is Windows' SYSTEM_POWER_STATUS.
type SystemPowerStatus struct {
	ACLineStatus        uint8  `json:"ac_line_status"`
	BatteryFlag         uint8  `json:"battery_flag"`
	BatteryLifePercent  uint8  `json:"battery_life_percent"`
	SystemStatusFlag    uint8  `json:"system_status_flag"`
	BatteryLifeTime     uint32 `json:"battery_life_time"`
	BatteryFullLifeTime uint32 `json:"battery_full_life_time"`
}

// windowsHardware reads the SMBIOS strings and display adapters from the
// registry and the battery from GetSystemPowerStatus; with health, only
// the battery.
func (p *hardwareProbe) windowsHardware(health bool) *HardwareResult {
	r := newHardwareResult()
	if st, err := p.powerStatus(); err != nil {
		r.Unavailable["battery"] = "GetSystemPowerStatus: " + err.Error()
	} else {
		powerFromStatus(st, r)
	}
	if health {
		return r
	}
	if v, err := p.regValues(biosKey); err != nil {
		r.Unavailable["dmi"] = fmt.Sprintf("reading %s: %v", biosKey, err)
	} else {
		r.System, r.BIOS, r.Board = biosFromRegistry(v)
	}
	// The registry has neither: WMI does, through the storage-health probe.
	r.Unavailable["serial"] = "read by the storage-health probe (WMI)"
	r.Unavailable["usb"] = "not read on Windows yet"
	for i := range maxGPUs {
		v, err := p.regValues(fmt.Sprintf(`%s\%04d`, displayClassKey, i))
		if err != nil {
			break
		}
		if g, ok := gpuFromRegistry(v); ok {
			r.GPUs = append(r.GPUs, g)
		}
	}
	if len(r.GPUs) == 0 {
		r.Unavailable["gpu"] = notAvailable("no display adapter in the registry").Error()
	}
	return r
}

// biosFromRegistry takes the values of the BIOS key apart.
func biosFromRegistry(v map[string]string) (HardwareSystem, HardwareBIOS, HardwareBoard) {
	get := func(k string) string { return cleanText(v[k], maxHWText) }
	s := HardwareSystem{
		Vendor: get("SystemManufacturer"), Model: get("SystemProductName"), Version: get("SystemVersion"),
		Family: get("SystemFamily"), SKU: get("SystemSKU"),
	}
	bios := HardwareBIOS{Vendor: get("BIOSVendor"), Version: get("BIOSVersion"), Date: get("BIOSReleaseDate")}
	board := HardwareBoard{Vendor: get("BaseBoardManufacturer"), Name: get("BaseBoardProduct"), Version: get("BaseBoardVersion")}
	return s, bios, board
}

// pciMatch finds the vendor and device in a MatchingDeviceId such as
// "pci\ven_8086&dev_9a49".
var pciMatch = regexp.MustCompile(`(?i)ven_([0-9a-f]{4})&dev_([0-9a-f]{4})`)

// gpuFromRegistry reads a display adapter's driver key; false for keys
// without a driver (the Properties subkey and the like).
func gpuFromRegistry(v map[string]string) (GPU, bool) {
	g := GPU{
		Name: cleanText(v["DriverDesc"], maxHWText), Vendor: cleanText(v["ProviderName"], maxHWText),
		DriverVersion: cleanText(v["DriverVersion"], maxHWText),
	}
	if g.Name == "" {
		return GPU{}, false
	}
	if m := pciMatch.FindStringSubmatch(v["MatchingDeviceId"]); m != nil {
		g.VendorID, g.DeviceID = strings.ToLower(m[1]), strings.ToLower(m[2])
		if name, ok := pciVendors[g.VendorID]; ok {
			g.Vendor = name
		}
	}
	return g, true
}

// powerFromStatus reads SYSTEM_POWER_STATUS. Windows sums its batteries
// into one and keeps their wear to WMI (the storage-health probe).
func powerFromStatus(st SystemPowerStatus, r *HardwareResult) {
	switch st.ACLineStatus {
	case 0:
		r.Power.OnAC = new(false)
	case 1:
		r.Power.OnAC = new(true)
	}
	const noBattery, unknown = 0x80, 0xff
	if st.BatteryFlag == unknown || st.BatteryFlag&noBattery != 0 {
		r.Unavailable["battery"] = notAvailable("no system battery").Error()
		return
	}
	b := Battery{Name: "system"}
	if st.BatteryLifePercent <= 100 {
		b.CapacityPercent = new(int(st.BatteryLifePercent))
	}
	switch {
	case st.BatteryFlag&0x08 != 0:
		b.Status = "Charging"
	case r.Power.OnAC != nil && !*r.Power.OnAC:
		b.Status = "Discharging"
	}
	switch {
	case st.BatteryFlag&0x04 != 0:
		b.CapacityLevel = "Critical"
	case st.BatteryFlag&0x02 != 0:
		b.CapacityLevel = "Low"
	case st.BatteryFlag&0x01 != 0:
		b.CapacityLevel = "High"
	}
	if st.BatteryLifeTime != 0xffffffff && b.Status == "Discharging" {
		b.HoursToEmpty = new(hundredths(float64(st.BatteryLifeTime) / 3600))
	}
	r.Power.Batteries = append(r.Power.Batteries, b)
}

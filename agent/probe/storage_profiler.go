package probe

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// profilerArgs ask system_profiler for the NVMe and SATA drives, power and
// the hardware overview (serial number, model), as JSON.
var profilerArgs = []string{"-json", "SPNVMeDataType", "SPSerialATADataType", "SPPowerDataType", "SPHardwareDataType"}

// profilerOutput is the part of system_profiler's JSON the probe reads.
type profilerOutput struct {
	Hardware []struct {
		MachineModel string `json:"machine_model"`
		MachineName  string `json:"machine_name"`
		ModelNumber  string `json:"model_number"`
		SerialNumber string `json:"serial_number"`
		ChipType     string `json:"chip_type"`
		CPUType      string `json:"cpu_type"`
	} `json:"SPHardwareDataType"`
	NVMe  []profilerBus `json:"SPNVMeDataType"`
	SATA  []profilerBus `json:"SPSerialATADataType"`
	Power []struct {
		Name   string `json:"_name"`
		Charge struct {
			StateOfCharge flexUint `json:"sppower_battery_state_of_charge"`
			IsCharging    string   `json:"sppower_battery_is_charging"`
			FullyCharged  string   `json:"sppower_battery_fully_charged"`
		} `json:"sppower_battery_charge_info"`
		Health struct {
			CycleCount     flexUint `json:"sppower_battery_cycle_count"`
			Condition      string   `json:"sppower_battery_health"`
			MaximumPercent string   `json:"sppower_battery_health_maximum_capacity"`
		} `json:"sppower_battery_health_info"`
		Model struct {
			Manufacturer string `json:"sppower_battery_manufacturer"`
			DeviceName   string `json:"sppower_battery_device_name"`
			Serial       string `json:"sppower_battery_serial_number"`
		} `json:"sppower_battery_model_info"`
		ChargerConnected string `json:"sppower_battery_charger_connected"`
	} `json:"SPPowerDataType"`
}

// profilerBus is one storage controller and its drives.
type profilerBus struct {
	Items []struct {
		Name        string   `json:"_name"`
		BSDName     string   `json:"bsd_name"`
		Model       string   `json:"device_model"`
		Serial      string   `json:"device_serial"`
		Revision    string   `json:"device_revision"`
		SizeInBytes flexUint `json:"size_in_bytes"`
		SmartStatus string   `json:"smart_status"`
	} `json:"_items"`
}

// parseProfiler reads system_profiler's JSON into r: the drives' SMART
// verdicts (all macOS says of them), the machine and its battery.
func parseProfiler(b []byte, r *StorageResult) error {
	var o profilerOutput
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("parsing system_profiler's JSON: %w", err)
	}
	for _, bus := range []struct {
		protocol string
		ctrls    []profilerBus
	}{{"nvme", o.NVMe}, {"sata", o.SATA}} {
		for _, c := range bus.ctrls {
			for _, it := range c.Items {
				if len(r.Disks) == maxStorageDisks {
					r.DisksLeftOff++
					continue
				}
				d := StorageDisk{
					Name: cleanText(it.BSDName, 32), Protocol: bus.protocol,
					Model: cleanText(it.Model, maxHWText), Serial: cleanText(it.Serial, maxHWText),
					Firmware: cleanText(it.Revision, maxHWText), CapacityBytes: it.SizeInBytes.or0(),
					Status: cleanText(it.SmartStatus, 32),
				}
				if d.Name == "" {
					d.Name = cleanText(it.Name, maxHWText)
				} else {
					d.Device = "/dev/" + d.Name
				}
				switch d.Status {
				case "Verified":
					d.SmartPassed = new(true)
				case "Failing":
					d.SmartPassed = new(false)
				}
				r.Disks = append(r.Disks, d)
			}
		}
	}
	s := &StorageSystem{}
	if len(o.Hardware) > 0 {
		h := o.Hardware[0]
		s.Model = cleanText(h.MachineModel, maxHWText)
		s.Family = cleanText(h.MachineName, maxHWText)
		s.SKU = cleanText(h.ModelNumber, maxHWText)
		s.Serial = cleanText(h.SerialNumber, maxHWText)
		s.CPU = cleanText(cmp.Or(h.ChipType, h.CPUType), maxHWText)
	}
	for _, p := range o.Power {
		if p.Name != "spbattery_information" || len(s.Batteries) == 4 {
			continue
		}
		bat := Battery{
			Name: fmt.Sprintf("InternalBattery-%d", len(s.Batteries)), Model: cleanText(p.Model.DeviceName, maxHWText),
			Condition:    cleanText(p.Health.Condition, 64),
			Manufacturer: cleanText(p.Model.Manufacturer, maxHWText), Serial: cleanText(p.Model.Serial, maxHWText),
			CycleCount: p.Health.CycleCount.ptr(),
		}
		if c := p.Charge.StateOfCharge; c.ok && c.n <= 100 {
			bat.CapacityPercent = new(int(c.n))
		}
		switch {
		case p.Charge.IsCharging == "TRUE":
			bat.Status = "Charging"
		case p.Charge.FullyCharged == "TRUE":
			bat.Status = "Full"
		}
		if pct, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(p.Health.MaximumPercent), "%"), 64); err == nil && pct >= 0 && pct <= 1000 {
			bat.HealthPercent = new(hundredths(pct))
		}
		s.Batteries = append(s.Batteries, bat)
	}
	if len(o.Hardware) > 0 || len(s.Batteries) > 0 {
		r.System = s
	}
	return nil
}

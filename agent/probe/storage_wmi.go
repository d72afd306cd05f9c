package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// windowsStorageScript asks Windows' storage cmdlets and WMI, in one fixed
// PowerShell call, for each physical disk's health and reliability
// counters, the storage drivers' failure predictions, the machine's serial
// number and chassis, and its batteries' wear. Enumerations are cast to
// text where PowerShell has names for them.
const windowsStorageScript = `$ErrorActionPreference='SilentlyContinue'
$disks=@(Get-PhysicalDisk | ForEach-Object { $r=$_ | Get-StorageReliabilityCounter; [ordered]@{DeviceId=$_.DeviceId; FriendlyName=$_.FriendlyName; SerialNumber=$_.SerialNumber; FirmwareVersion=$_.FirmwareVersion; MediaType=[string]$_.MediaType; BusType=[string]$_.BusType; HealthStatus=[string]$_.HealthStatus; OperationalStatus=[string]$_.OperationalStatus; Size=$_.Size; Temperature=$r.Temperature; Wear=$r.Wear; PowerOnHours=$r.PowerOnHours; StartStopCycleCount=$r.StartStopCycleCount; ReadErrorsTotal=$r.ReadErrorsTotal; ReadErrorsUncorrected=$r.ReadErrorsUncorrected; WriteErrorsTotal=$r.WriteErrorsTotal; WriteErrorsUncorrected=$r.WriteErrorsUncorrected} })
$predict=@(Get-CimInstance -Namespace root\wmi -ClassName MSStorageDriver_FailurePredictStatus | ForEach-Object { [ordered]@{InstanceName=$_.InstanceName; PredictFailure=$_.PredictFailure; Reason=$_.Reason} })
$cs=Get-CimInstance Win32_ComputerSystem; $bios=Get-CimInstance Win32_BIOS; $enc=@(Get-CimInstance Win32_SystemEnclosure)[0]
$full=@{}; Get-CimInstance -Namespace root\wmi -ClassName BatteryFullChargedCapacity | ForEach-Object { $full[$_.InstanceName]=$_.FullChargedCapacity }
$cycles=@{}; Get-CimInstance -Namespace root\wmi -ClassName BatteryCycleCount | ForEach-Object { $cycles[$_.InstanceName]=$_.CycleCount }
$bat=@(Get-CimInstance -Namespace root\wmi -ClassName BatteryStaticData | ForEach-Object { [ordered]@{DeviceName=$_.DeviceName; ManufactureName=$_.ManufactureName; SerialNumber=$_.SerialNumber; DesignedCapacity=$_.DesignedCapacity; FullChargedCapacity=$full[$_.InstanceName]; CycleCount=$cycles[$_.InstanceName]} })
[ordered]@{disks=$disks; predict=$predict; system=[ordered]@{Manufacturer=$cs.Manufacturer; Model=$cs.Model; SystemFamily=$cs.SystemFamily; SystemSKUNumber=$cs.SystemSKUNumber; SerialNumber=$bios.SerialNumber; ChassisTypes=@($enc.ChassisTypes)}; batteries=$bat} | ConvertTo-Json -Depth 4 -Compress`

// windowsStorageArgs run the script without a profile or prompts.
var windowsStorageArgs = []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", windowsStorageScript}

// WindowsDiskStats are a disk's Windows storage reliability counters.
type WindowsDiskStats struct {
	MediaType              string  `json:"media_type,omitempty"`
	OperationalStatus      string  `json:"operational_status,omitempty"`
	ReadErrorsTotal        *uint64 `json:"read_errors_total,omitempty"`
	ReadErrorsUncorrected  *uint64 `json:"read_errors_uncorrected,omitempty"`
	WriteErrorsTotal       *uint64 `json:"write_errors_total,omitempty"`
	WriteErrorsUncorrected *uint64 `json:"write_errors_uncorrected,omitempty"`
}

// FailurePrediction is one storage driver's failure prediction.
type FailurePrediction struct {
	Instance       string `json:"instance"`
	PredictFailure bool   `json:"predict_failure"`
	Reason         uint64 `json:"reason,omitempty"`
}

// windowsStorage is the script's output.
type windowsStorage struct {
	Disks   oneOrMany[windowsDisk] `json:"disks"`
	Predict oneOrMany[struct {
		InstanceName   string   `json:"InstanceName"`
		PredictFailure bool     `json:"PredictFailure"`
		Reason         flexUint `json:"Reason"`
	}] `json:"predict"`
	System *struct {
		Manufacturer, Model, SystemFamily, SystemSKUNumber, SerialNumber string
		ChassisTypes                                                     oneOrMany[flexUint]
	} `json:"system"`
	Batteries oneOrMany[struct {
		DeviceName, ManufactureName, SerialNumber         string
		DesignedCapacity, FullChargedCapacity, CycleCount flexUint
	}] `json:"batteries"`
}

type windowsDisk struct {
	DeviceID                                                   flexString `json:"DeviceId"`
	FriendlyName, SerialNumber, FirmwareVersion                string
	MediaType, BusType, HealthStatus, OperationalStatus        string
	Size, Temperature, Wear, PowerOnHours, StartStopCycleCount flexUint
	ReadErrorsTotal, ReadErrorsUncorrected                     flexUint
	WriteErrorsTotal, WriteErrorsUncorrected                   flexUint
}

// Windows storage enumerations, for a PowerShell without the Storage
// module's names: MSFT_PhysicalDisk's HealthStatus, MediaType and BusType.
var (
	windowsHealth = map[string]string{"0": "Healthy", "1": "Warning", "2": "Unhealthy", "5": "Unknown"}
	windowsMedia  = map[string]string{"0": "Unspecified", "3": "HDD", "4": "SSD", "5": "SCM"}
	windowsBus    = map[string]string{"1": "SCSI", "2": "ATAPI", "3": "ATA", "6": "Fibre Channel", "7": "USB",
		"8": "RAID", "9": "iSCSI", "10": "SAS", "11": "SATA", "12": "SD", "13": "MMC", "15": "File Backed Virtual",
		"16": "Storage Spaces", "17": "NVMe"}
)

// parseWindowsStorage reads the script's JSON into r.
func parseWindowsStorage(b []byte, r *StorageResult) error {
	var w windowsStorage
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &w); err != nil {
		return fmt.Errorf("parsing PowerShell's storage JSON: %w", err)
	}
	for _, wd := range w.Disks {
		if len(r.Disks) == maxStorageDisks {
			r.DisksLeftOff++
			continue
		}
		r.Disks = append(r.Disks, windowsDiskHealth(&wd))
	}
	for _, p := range w.Predict[:min(len(w.Predict), maxStorageDisks)] {
		r.FailurePredictions = append(r.FailurePredictions, FailurePrediction{
			Instance: cleanText(p.InstanceName, maxHWText), PredictFailure: p.PredictFailure, Reason: p.Reason.or0()})
	}
	if s := w.System; s != nil {
		r.System = &StorageSystem{HardwareSystem: HardwareSystem{
			Vendor: cleanText(s.Manufacturer, maxHWText), Model: cleanText(s.Model, maxHWText),
			Family: cleanText(s.SystemFamily, maxHWText), SKU: cleanText(s.SystemSKUNumber, maxHWText),
			Serial: cleanText(s.SerialNumber, maxHWText),
		}}
		if len(s.ChassisTypes) > 0 && s.ChassisTypes[0].ok {
			if n := s.ChassisTypes[0].n; n < 256 {
				r.System.ChassisTypeID, r.System.ChassisType = int(n), chassisName(int(n))
			}
		}
		for _, wb := range w.Batteries[:min(len(w.Batteries), 4)] {
			b := Battery{Name: cleanText(wb.DeviceName, maxHWText), Manufacturer: cleanText(wb.ManufactureName, maxHWText),
				Serial: cleanText(wb.SerialNumber, maxHWText), EnergyDesignMWh: wb.DesignedCapacity.ptr(),
				EnergyFullMWh: wb.FullChargedCapacity.ptr(), CycleCount: wb.CycleCount.ptr()}
			if b.EnergyFullMWh != nil && b.EnergyDesignMWh != nil {
				b.HealthPercent = percentOf(*b.EnergyFullMWh, *b.EnergyDesignMWh)
			}
			r.System.Batteries = append(r.System.Batteries, b)
		}
	}
	return nil
}

// windowsDiskHealth reads one physical disk and its counters.
func windowsDiskHealth(wd *windowsDisk) StorageDisk {
	named := func(m map[string]string, s string) string {
		if n, ok := m[s]; ok {
			return n
		}
		return cleanText(s, 32)
	}
	d := StorageDisk{
		Name:     "PhysicalDisk" + cleanText(string(wd.DeviceID), 16),
		Protocol: strings.ToLower(named(windowsBus, wd.BusType)),
		Model:    cleanText(wd.FriendlyName, maxHWText), Serial: cleanText(wd.SerialNumber, maxHWText),
		Firmware: cleanText(wd.FirmwareVersion, maxHWText), CapacityBytes: wd.Size.or0(),
		Status:       named(windowsHealth, wd.HealthStatus),
		PowerOnHours: wd.PowerOnHours.ptr(), PowerCycles: wd.StartStopCycleCount.ptr(),
		Windows: &WindowsDiskStats{
			MediaType: named(windowsMedia, wd.MediaType), OperationalStatus: cleanText(wd.OperationalStatus, 64),
			ReadErrorsTotal: wd.ReadErrorsTotal.ptr(), ReadErrorsUncorrected: wd.ReadErrorsUncorrected.ptr(),
			WriteErrorsTotal: wd.WriteErrorsTotal.ptr(), WriteErrorsUncorrected: wd.WriteErrorsUncorrected.ptr(),
		},
	}
	switch d.Status {
	case "Healthy":
		d.SmartPassed = new(true)
	case "Warning", "Unhealthy":
		d.SmartPassed = new(false)
	}
	// Windows reports 0 °C for a disk that does not say.
	if t := wd.Temperature; t.ok && t.n > 0 && t.n < 200 {
		d.TemperatureC = new(int(t.n))
	}
	// Disks without wear (HDDs) report 0.
	if w := wd.Wear; w.ok && w.n <= 255 && d.Windows.MediaType != "HDD" {
		d.PercentageUsed = new(int(w.n))
	}
	return d
}

// oneOrMany decodes a JSON list, a lone value (PowerShell writes a list of
// one as its element) or null.
type oneOrMany[T any] []T

func (l *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, (*[]T)(l)); err != nil {
			return fmt.Errorf("decoding a list: %w", err)
		}
		return nil
	}
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decoding a lone value: %w", err)
	}
	*l = oneOrMany[T]{v}
	return nil
}

// flexUint decodes a non-negative integer written as a number or as text;
// null, negative or other values leave it unset.
type flexUint struct {
	n  uint64
	ok bool
}

func (f *flexUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		*f = flexUint{n, true}
	} else if x, err := strconv.ParseFloat(s, 64); err == nil && x >= 0 && x < 1.8e19 && x == float64(uint64(x)) {
		*f = flexUint{uint64(x), true}
	} else {
		*f = flexUint{}
	}
	return nil
}

func (f flexUint) ptr() *uint64 {
	if !f.ok {
		return nil
	}
	return new(f.n)
}

func (f flexUint) or0() uint64 { return f.n }

// flexString decodes text written as a string or a number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	if len(b) <= 32 && json.Valid(b) {
		*f = flexString(strings.Trim(string(b), `"`))
	}
	return nil
}

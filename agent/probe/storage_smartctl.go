package probe

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
)

// smartctlArgs ask smartctl for the overall verdict, the attributes and
// the identity, as JSON; the device path follows.
var smartctlArgs = []string{"--json", "-H", "-A", "-i"}

// maxATAAttributes bounds the attributes kept of one disk.
const maxATAAttributes = 32

// ATAHealth holds the SMART attributes of a SATA disk that predict its
// failure (raw values), and the attributes themselves, with any other at
// or below its threshold now or in the past. Raw values are smartctl's
// 48-bit numbers: some vendors pack several counters into one (Seagate's
// Command_Timeout holds three 16-bit counts).
type ATAHealth struct {
	ReallocatedSectors   *uint64        `json:"reallocated_sectors,omitempty"`   // 5
	ReportedUncorrect    *uint64        `json:"reported_uncorrect,omitempty"`    // 187
	CommandTimeout       *uint64        `json:"command_timeout,omitempty"`       // 188
	PendingSectors       *uint64        `json:"pending_sectors,omitempty"`       // 197
	OfflineUncorrectable *uint64        `json:"offline_uncorrectable,omitempty"` // 198
	UDMACRCErrors        *uint64        `json:"udma_crc_errors,omitempty"`       // 199
	Attributes           []ATAAttribute `json:"attributes"`
}

// ATAAttribute is one SMART attribute: normalised value, worst and
// threshold (a value at or below the threshold means failing), and raw.
type ATAAttribute struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Value     int    `json:"value"`
	Worst     int    `json:"worst"`
	Threshold int    `json:"threshold"`
	Raw       uint64 `json:"raw"`
	// WhenFailed is smartctl's "now" or "past" for an attribute that
	// reached its threshold.
	WhenFailed string `json:"when_failed,omitempty"`
}

// SCSIHealth is what a SAS disk reports instead of attributes.
type SCSIHealth struct {
	GrownDefects     *uint64 `json:"grown_defects,omitempty"`
	ReadUncorrected  *uint64 `json:"read_uncorrected_errors,omitempty"`
	WriteUncorrected *uint64 `json:"write_uncorrected_errors,omitempty"`
}

// smartctlOutput is the part of `smartctl --json` the probe reads.
type smartctlOutput struct {
	Smartctl struct {
		ExitStatus int `json:"exit_status"`
		Messages   []struct {
			String string `json:"string"`
		} `json:"messages"`
	} `json:"smartctl"`
	Device struct {
		Protocol string `json:"protocol"`
	} `json:"device"`
	ModelName       string `json:"model_name"`
	SCSIVendor      string `json:"scsi_vendor"`
	SCSIProduct     string `json:"scsi_product"`
	SerialNumber    string `json:"serial_number"`
	FirmwareVersion string `json:"firmware_version"`
	SCSIRevision    string `json:"scsi_revision"`
	UserCapacity    struct {
		Bytes uint64 `json:"bytes"`
	} `json:"user_capacity"`
	SmartStatus struct {
		Passed *bool `json:"passed"`
	} `json:"smart_status"`
	ATASmartAttributes struct {
		Table []struct {
			ID         int    `json:"id"`
			Name       string `json:"name"`
			Value      int    `json:"value"`
			Worst      int    `json:"worst"`
			Thresh     int    `json:"thresh"`
			WhenFailed string `json:"when_failed"`
			Raw        struct {
				Value uint64 `json:"value"`
			} `json:"raw"`
		} `json:"table"`
	} `json:"ata_smart_attributes"`
	PowerOnTime struct {
		Hours *uint64 `json:"hours"`
	} `json:"power_on_time"`
	PowerCycleCount *uint64 `json:"power_cycle_count"`
	Temperature     struct {
		Current *int `json:"current"`
	} `json:"temperature"`
	SCSIGrownDefectList *uint64 `json:"scsi_grown_defect_list"`
	SCSIErrorCounterLog struct {
		Read  scsiErrorCounters `json:"read"`
		Write scsiErrorCounters `json:"write"`
	} `json:"scsi_error_counter_log"`
	SCSIPercentageUsed *int `json:"scsi_percentage_used_endurance_indicator"`
}

type scsiErrorCounters struct {
	TotalUncorrected *uint64 `json:"total_uncorrected_errors"`
}

// parseSmartctl reads `smartctl --json -H -A -i` of one disk into d.
// smartctl's exit status is a bit field: bits 0 and 1 (bad command line,
// device not opened) mean it read nothing; the higher bits describe the
// disk and leave the JSON whole.
func parseSmartctl(b []byte, d *StorageDisk) error {
	var o smartctlOutput
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("parsing smartctl's JSON: %w", err)
	}
	if o.Smartctl.ExitStatus&0x03 != 0 {
		var msgs []string
		for _, m := range o.Smartctl.Messages[:min(len(o.Smartctl.Messages), 4)] {
			msgs = append(msgs, cleanText(m.String, maxHWText))
		}
		return fmt.Errorf("smartctl exit status %d: %s", o.Smartctl.ExitStatus, strings.Join(msgs, "; "))
	}
	d.Protocol = strings.ToLower(cleanText(o.Device.Protocol, 16))
	d.Model = cmp.Or(cleanText(o.ModelName, maxHWText), cleanText(o.SCSIVendor+" "+o.SCSIProduct, maxHWText), d.Model)
	d.Serial = cleanText(o.SerialNumber, maxHWText)
	d.Firmware = cleanText(cmp.Or(o.FirmwareVersion, o.SCSIRevision), maxHWText)
	d.CapacityBytes = o.UserCapacity.Bytes
	d.SmartPassed = o.SmartStatus.Passed
	d.TemperatureC = o.Temperature.Current
	d.PowerOnHours = o.PowerOnTime.Hours
	d.PowerCycles = o.PowerCycleCount
	if d.Protocol == "scsi" {
		d.SCSI = &SCSIHealth{GrownDefects: o.SCSIGrownDefectList,
			ReadUncorrected: o.SCSIErrorCounterLog.Read.TotalUncorrected, WriteUncorrected: o.SCSIErrorCounterLog.Write.TotalUncorrected}
		if u := o.SCSIPercentageUsed; u != nil && *u >= 0 {
			d.PercentageUsed = u
		}
	}
	if len(o.ATASmartAttributes.Table) == 0 {
		return nil
	}
	a := &ATAHealth{Attributes: []ATAAttribute{}}
	named := map[int]**uint64{5: &a.ReallocatedSectors, 187: &a.ReportedUncorrect, 188: &a.CommandTimeout,
		197: &a.PendingSectors, 198: &a.OfflineUncorrectable, 199: &a.UDMACRCErrors}
	for _, t := range o.ATASmartAttributes.Table {
		field, predicts := named[t.ID]
		if predicts && *field == nil {
			*field = new(t.Raw.Value)
		}
		failing := t.WhenFailed != "" || t.Thresh > 0 && t.Value <= t.Thresh
		if (predicts || failing) && len(a.Attributes) < maxATAAttributes {
			a.Attributes = append(a.Attributes, ATAAttribute{ID: t.ID, Name: cleanText(t.Name, 64),
				Value: t.Value, Worst: t.Worst, Threshold: t.Thresh, Raw: t.Raw.Value, WhenFailed: cleanText(t.WhenFailed, 16)})
		}
	}
	d.ATA = a
	return nil
}

// ataName matches the SATA and SAS disks in /sys/block, which smartctl
// reads; virtio, MMC and device-mapper disks have no SMART.
var ataName = regexp.MustCompile(`^sd[a-z]{1,3}$`)

// ataDisks asks smartctl about each fixed SATA or SAS disk; a health
// snapshot runs no tool.
func (p *storageProbe) ataDisks(ctx context.Context, health bool, r *StorageResult) {
	dir := Path(ctx, common.HostSysEnvKey, "block")
	var names, others []string
	for _, name := range dirNames(dir, 1024) {
		switch {
		case strings.HasPrefix(name, "nvme") || !ioDiskWanted(name):
		case !ataName.MatchString(name):
			others = append(others, name)
		case sysfsAttrs(dir+"/"+name).text("removable") != "1": // card readers and sticks have no SMART
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		why := "no SATA or SAS disk in /sys/block"
		if len(others) > 0 {
			why += fmt.Sprintf(" (%s: no SMART)", strings.Join(others[:min(len(others), 8)], ", "))
		}
		r.Unavailable["ata"] = notAvailable("%s", why).Error()
		return
	}
	if len(names) > maxStorageDisks {
		r.DisksLeftOff += len(names) - maxStorageDisks
		names = names[:maxStorageDisks]
	}
	if health {
		r.Unavailable["smartctl"] = "smartctl is not run in health snapshots"
		return
	}
	for _, name := range names {
		read := sysfsAttrs(dir + "/" + name + "/device")
		d := StorageDisk{Name: name, Device: "/dev/" + name,
			Model: cleanText(read.text("vendor")+" "+read.text("model"), maxHWText)}
		if _, missing := r.Unavailable["smartctl"]; !missing {
			p.smartctl(ctx, &d, Path(ctx, common.HostDevEnvKey, name), r)
		}
		r.Disks = append(r.Disks, d)
	}
}

// smartctl runs smartctl on one disk. When smartctl is not installed, the
// disks are listed without health and it is not tried again.
func (p *storageProbe) smartctl(ctx context.Context, d *StorageDisk, dev string, r *StorageResult) {
	out, truncated, err := p.tool(ctx, maxToolOutput, "smartctl", append(smartctlArgs[:len(smartctlArgs):len(smartctlArgs)], dev)...)
	switch {
	case errors.Is(err, ErrNotAvailable):
		r.Unavailable["smartctl"] = err.Error()
		return
	case truncated:
		d.Error = fmt.Sprintf("smartctl wrote more than %d bytes", maxToolOutput)
		return
	case len(out) == 0 && err != nil:
		d.Error = err.Error()
		return
	}
	// smartctl exits non-zero for a failing disk, with its whole report.
	if perr := parseSmartctl(out, d); perr != nil {
		d.Error = perr.Error()
	}
}

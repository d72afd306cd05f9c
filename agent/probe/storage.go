package probe

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

func init() {
	Register("storage-health", Spec{Heavy: true, Platforms: Everywhere}, func() Probe {
		return &storageProbe{goos: runtime.GOOS, smartLog: nvmeSmartLog, tool: runTool}
	})
}

// storageProbe reports whether the disks are failing: NVMe health logs
// read with the NVMe admin ioctl, SATA and SAS SMART through smartctl, and
// elsewhere the platform's own tool (PowerShell's storage cmdlets,
// system_profiler). It is heavy: it runs when named, as bundles do.
type storageProbe struct {
	// goos selects the platform's sources, so that tests run the Windows
	// and macOS paths on recorded output.
	goos string
	// smartLog reads the 512-byte SMART / Health Information log of the
	// NVMe controller device dev (/dev/nvme0).
	smartLog func(dev string) ([]byte, error)
	// tool runs a platform tool with fixed arguments (runTool).
	tool func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)
}

// Bounds of the storage-health result.
const (
	maxStorageDisks = 16      // disks of each kind read
	maxToolOutput   = 1 << 20 // bytes of a tool's JSON
)

// StorageResult is the storage-health probe's result (full and health
// alike: the health variant runs no tool). Unavailable names what this
// machine has no data for ("nvme", "ata", "smartctl" ...) and why.
type StorageResult struct {
	Disks        []StorageDisk `json:"disks"`
	DisksLeftOff int           `json:"disks_left_off,omitempty"`
	// FailurePredictions are Windows' storage drivers' own failure
	// predictions, by driver instance (they do not name the disk).
	FailurePredictions []FailurePrediction `json:"failure_predictions,omitempty"`
	// System is what the platform's storage tool also tells of the machine
	// (macOS, Windows): serial number, model, battery wear.
	System      *StorageSystem    `json:"system,omitempty"`
	Truncated   bool              `json:"truncated,omitempty"`
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// StorageDisk is one disk's health. The common fields are filled from
// whichever source the platform has; nvme, ata, scsi and windows hold what
// only that source says.
type StorageDisk struct {
	Name          string `json:"name"`
	Device        string `json:"device,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
	Model         string `json:"model,omitempty"`
	Serial        string `json:"serial,omitempty"`
	Firmware      string `json:"firmware,omitempty"`
	CapacityBytes uint64 `json:"capacity_bytes,omitempty"`
	// SmartPassed is the disk's own overall verdict (SMART overall
	// health, no NVMe critical warning, Windows "Healthy", macOS
	// "Verified"); Status is the platform's word for it.
	SmartPassed  *bool   `json:"smart_passed,omitempty"`
	Status       string  `json:"status,omitempty"`
	TemperatureC *int    `json:"temperature_c,omitempty"`
	PowerOnHours *uint64 `json:"power_on_hours,omitempty"`
	PowerCycles  *uint64 `json:"power_cycles,omitempty"`
	// PercentageUsed is the share of the rated endurance used (NVMe,
	// Windows wear); it may pass 100.
	PercentageUsed *int              `json:"percentage_used,omitempty"`
	NVMe           *NVMeHealth       `json:"nvme,omitempty"`
	ATA            *ATAHealth        `json:"ata,omitempty"`
	SCSI           *SCSIHealth       `json:"scsi,omitempty"`
	Windows        *WindowsDiskStats `json:"windows,omitempty"`
	Error          string            `json:"error,omitempty"`
}

// StorageSystem is the machine as the storage tool describes it, and its
// batteries' wear.
type StorageSystem struct {
	HardwareSystem
	Batteries []Battery `json:"batteries,omitempty"`
}

func (p *storageProbe) Name() string { return "storage-health" }

func (p *storageProbe) Collect(ctx context.Context, env *Env) (any, error) {
	r := &StorageResult{Disks: []StorageDisk{}, Unavailable: map[string]string{}}
	var err error
	switch p.goos {
	case "linux":
		err = p.linuxStorage(ctx, env.Health, r)
	case "windows":
		err = p.toolStorage(ctx, env.Health, r, "powershell.exe", windowsStorageArgs, parseWindowsStorage)
	case "darwin":
		err = p.toolStorage(ctx, env.Health, r, "system_profiler", profilerArgs, parseProfiler)
	default:
		return nil, notAvailable("no disk health on %s", p.goos)
	}
	if err != nil {
		return nil, err
	}
	if len(r.Disks) > maxStorageDisks {
		r.DisksLeftOff += len(r.Disks) - maxStorageDisks
		r.Disks = r.Disks[:maxStorageDisks]
	}
	if len(r.Unavailable) == 0 {
		r.Unavailable = nil
	}
	return r, nil
}

// linuxStorage reads the NVMe health logs, and asks smartctl about the
// SATA and SAS disks.
func (p *storageProbe) linuxStorage(ctx context.Context, health bool, r *StorageResult) error {
	p.nvmeDisks(ctx, r)
	p.ataDisks(ctx, health, r)
	noNVMe, noATA := r.Unavailable["nvme"], r.Unavailable["ata"]
	if len(r.Disks) == 0 && noNVMe != "" && noATA != "" {
		prefix := ErrNotAvailable.Error() + ": "
		return notAvailable("%s; %s", strings.TrimPrefix(noNVMe, prefix), strings.TrimPrefix(noATA, prefix))
	}
	return nil
}

// toolStorage runs the platform's storage tool and parses its JSON. A
// health snapshot runs no tool: it says so.
func (p *storageProbe) toolStorage(ctx context.Context, health bool, r *StorageResult, name string, args []string,
	parse func([]byte, *StorageResult) error) error {
	if health {
		r.Unavailable[name] = name + " is not run in health snapshots"
		return nil
	}
	out, truncated, err := p.tool(ctx, maxToolOutput, name, args...)
	if err != nil && len(out) == 0 {
		return err
	}
	if truncated {
		// Cut JSON does not parse: say why rather than how.
		return fmt.Errorf("%s wrote more than %d bytes", name, maxToolOutput)
	}
	if perr := parse(out, r); perr != nil {
		if err != nil {
			return err
		}
		return perr
	}
	return nil
}

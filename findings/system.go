package findings

import (
	"fmt"
	"time"
)

func init() {
	register("system", []string{"system.reboot-pending"}, analyzeSystem)
}

// systemData is what the system analyzer reads of the system probe's full
// variant.
type systemData struct {
	RebootRequired   bool     `json:"reboot_required"`
	RebootRequiredBy []string `json:"reboot_required_by"`
	UptimeSeconds    int64    `json:"uptime_seconds"`
}

// maxRebootPackages bounds the packages named in the evidence.
const maxRebootPackages = 10

// softwareReboot is what the system analyzer reads of the software
// probe: how long a restart has been pending, where the platform says.
type softwareReboot struct {
	Reboot *struct {
		Required       bool     `json:"required"`
		PendingSeconds int64    `json:"pending_seconds"`
		Packages       []string `json:"packages"`
	} `json:"reboot"`
}

func analyzeSystem(in *input) []Finding {
	var d systemData
	probe(in.doc, "system", &d)
	var sw softwareReboot
	if probe(in.doc, "software", &sw) && sw.Reboot != nil && sw.Reboot.Required {
		d.RebootRequired = true
		if len(d.RebootRequiredBy) == 0 {
			d.RebootRequiredBy = sw.Reboot.Packages
		}
	}
	if !d.RebootRequired {
		return nil
	}
	ev := map[string]any{"uptime_seconds": d.UptimeSeconds}
	if len(d.RebootRequiredBy) > 0 {
		pkgs := make([]string, 0, min(len(d.RebootRequiredBy), maxRebootPackages))
		for _, p := range d.RebootRequiredBy[:cap(pkgs)] {
			pkgs = append(pkgs, clip(p))
		}
		ev["packages"] = pkgs
	}
	f := Finding{ID: "system.reboot-pending", Severity: Info, Evidence: ev,
		Title: "A restart is needed to finish installing updates"}
	if sw.Reboot != nil && sw.Reboot.PendingSeconds > 0 {
		pending := time.Duration(sw.Reboot.PendingSeconds) * time.Second
		ev["pending_seconds"] = sw.Reboot.PendingSeconds
		if pending >= RebootPendingWarning {
			f.Severity = Warning
			f.Title = fmt.Sprintf("A restart has been needed for %d days to finish installing updates", int(pending.Hours()/24))
		}
	}
	return []Finding{f}
}

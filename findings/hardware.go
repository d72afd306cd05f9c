package findings

import (
	"fmt"
	"strings"
)

func init() {
	register("hardware", []string{"hardware.battery-worn", "storage.failing", "storage.worn-out"}, analyzeHardware)
}

// batteryData is what the analyzer reads of the hardware probe (full or
// health variant) and of storage-health's system section (macOS, Windows).
type batteryData struct {
	Power struct {
		Batteries []battery `json:"batteries"`
	} `json:"power"`
}

type battery struct {
	Name          string   `json:"name"`
	HealthPercent *float64 `json:"health_percent"`
	CycleCount    *int64   `json:"cycle_count"`
	Condition     string   `json:"condition"` // macOS: Normal, Service Recommended, ...
	HoursToEmpty  *float64 `json:"hours_to_empty"`
}

// storageData is what the analyzer reads of the storage-health probe.
type storageData struct {
	Disks []struct {
		Name           string   `json:"name"`
		Model          string   `json:"model"`
		SmartPassed    *bool    `json:"smart_passed"`
		Status         string   `json:"status"`
		PercentageUsed *float64 `json:"percentage_used"`
		NVMe           *struct {
			Warnings    []string `json:"warnings"`
			MediaErrors uint64   `json:"media_errors"`
		} `json:"nvme"`
		ATA *struct {
			Reallocated          uint64 `json:"reallocated_sectors"`
			ReportedUncorrect    uint64 `json:"reported_uncorrect"`
			Pending              uint64 `json:"pending_sectors"`
			OfflineUncorrectable uint64 `json:"offline_uncorrectable"`
			Attributes           []struct {
				Name       string `json:"name"`
				WhenFailed string `json:"when_failed"`
			} `json:"attributes"`
		} `json:"ata"`
		SCSI *struct {
			GrownDefects uint64 `json:"grown_defects"`
		} `json:"scsi"`
	} `json:"disks"`
	FailurePredictions []struct {
		Instance       string `json:"instance"`
		PredictFailure bool   `json:"predict_failure"`
	} `json:"failure_predictions"`
	System *batteryData `json:"system"`
}

func analyzeHardware(in *input) []Finding {
	var out []Finding
	var hw batteryData
	batteries := []battery{}
	if probe(in.doc, "hardware", &hw) {
		batteries = append(batteries, hw.Power.Batteries...)
	}
	var st storageData
	if probe(in.doc, "storage-health", &st) {
		if st.System != nil {
			batteries = append(batteries, st.System.Power.Batteries...)
		}
		out = append(out, storageFindings(&st)...)
	}
	seen := map[string]bool{}
	for _, b := range batteries {
		if f, ok := batteryWorn(b); ok && !seen[b.Name] {
			seen[b.Name] = true
			out = append(out, f)
		}
	}
	return out
}

// batteryWorn judges a battery by the share of its design capacity it
// holds, or by the condition macOS gives it.
func batteryWorn(b battery) (Finding, bool) {
	ev := map[string]any{}
	var sev Severity
	var title string
	if b.HealthPercent != nil {
		health := *b.HealthPercent / 100
		ev["health_percent"] = *b.HealthPercent
		if sev = level(-health, -BatteryWornWarning, -BatteryWornCritical); sev != 0 {
			title = fmt.Sprintf("The battery holds %s of its original capacity", percent(health))
		}
	}
	switch c := strings.ToLower(b.Condition); {
	case c == "":
	case strings.Contains(c, "replace now") || strings.Contains(c, "service battery"):
		ev["condition"] = clip(b.Condition)
		sev, title = Critical, "The battery needs replacing: "+clip(b.Condition)
	case strings.Contains(c, "replace") || strings.Contains(c, "service"):
		ev["condition"] = clip(b.Condition)
		if sev < Warning {
			sev, title = Warning, "The battery is wearing out: "+clip(b.Condition)
		}
	}
	if sev == 0 {
		return Finding{}, false
	}
	if b.CycleCount != nil {
		ev["cycle_count"] = *b.CycleCount
	}
	if b.HoursToEmpty != nil {
		ev["hours_to_empty"] = *b.HoursToEmpty
	}
	return Finding{ID: "hardware.battery-worn", Severity: sev, Title: title, Subject: clip(b.Name), Evidence: ev}, true
}

// storageFindings judges each disk: failing (its own verdict, or the
// counters that predict failure) and worn out (an SSD's endurance used).
func storageFindings(st *storageData) []Finding {
	var out []Finding
	for _, d := range st.Disks {
		ev := map[string]any{}
		var sev Severity
		var why []string
		fail := func(s Severity, reason string) {
			sev = max(sev, s)
			why = append(why, reason)
		}
		if d.SmartPassed != nil && !*d.SmartPassed {
			ev["smart_passed"] = false
			fail(Critical, "its own health check fails")
		}
		if strings.EqualFold(d.Status, "unhealthy") {
			ev["status"] = clip(d.Status)
			fail(Critical, "Windows reports it unhealthy")
		}
		if n := d.NVMe; n != nil {
			if len(n.Warnings) > 0 {
				ev["nvme_warnings"] = n.Warnings
				fail(Critical, "it reports "+clip(strings.ReplaceAll(strings.Join(n.Warnings, ", "), "_", " ")))
			}
			if n.MediaErrors > 0 {
				ev["media_errors"] = n.MediaErrors
				fail(Warning, fmt.Sprintf("%d media errors", n.MediaErrors))
			}
		}
		if a := d.ATA; a != nil {
			for _, at := range a.Attributes {
				if at.WhenFailed != "" {
					ev["failed_attribute"] = clip(at.Name)
					fail(Critical, "attribute "+clip(at.Name)+" is past its threshold")
					break
				}
			}
			for _, c := range []struct {
				name string
				n    uint64
			}{{"reallocated_sectors", a.Reallocated}, {"pending_sectors", a.Pending}, {"offline_uncorrectable", a.OfflineUncorrectable}, {"reported_uncorrect", a.ReportedUncorrect}} {
				if c.n > 0 {
					ev[c.name] = c.n
					fail(Warning, fmt.Sprintf("%d %s", c.n, strings.ReplaceAll(c.name, "_", " ")))
				}
			}
		}
		if s := d.SCSI; s != nil && s.GrownDefects > 0 {
			ev["grown_defects"] = s.GrownDefects
			fail(Warning, fmt.Sprintf("%d grown defects", s.GrownDefects))
		}
		name := clip(d.Name)
		if sev != 0 {
			out = append(out, Finding{ID: "storage.failing", Severity: sev, Subject: name, Evidence: ev,
				Title: fmt.Sprintf("Disk %s may be failing: %s", name, strings.Join(why, "; "))})
		}
		if d.PercentageUsed != nil {
			if s := level(*d.PercentageUsed, DiskWearWarning, DiskWearCritical); s != 0 {
				out = append(out, Finding{ID: "storage.worn-out", Severity: s, Subject: name,
					Evidence: map[string]any{"percentage_used": *d.PercentageUsed},
					Title:    fmt.Sprintf("Disk %s has used %.0f%% of its rated write endurance", name, *d.PercentageUsed)})
			}
		}
	}
	for _, p := range st.FailurePredictions {
		if p.PredictFailure {
			out = append(out, Finding{ID: "storage.failing", Severity: Critical, Subject: clip(p.Instance),
				Evidence: map[string]any{"predict_failure": true},
				Title:    "A disk predicts its own failure: " + clip(p.Instance)})
		}
	}
	return out
}

package findings

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

func analyzeSystem(in *input) []Finding {
	var d systemData
	if !probe(in.doc, "system", &d) || !d.RebootRequired {
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
	return []Finding{{
		ID: "system.reboot-pending", Severity: Info, Evidence: ev,
		Title: "A restart is needed to finish installing updates",
	}}
}

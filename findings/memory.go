package findings

import "fmt"

func init() {
	register("memory", []string{"memory.pressure", "memory.swap-heavy"}, analyzeMemory)
}

// memoryData is what the memory analyzer reads of the memory probe: the
// full variant's fields and the health variant's, whichever are present.
type memoryData struct {
	TotalBytes     uint64   `json:"total_bytes"`
	AvailableBytes uint64   `json:"available_bytes"`
	UsedRatio      *float64 `json:"used_ratio"`
	Swap           *struct {
		TotalBytes uint64 `json:"total_bytes"`
		UsedBytes  uint64 `json:"used_bytes"`
	} `json:"swap"`
	Pressure *struct {
		Some *struct {
			Avg60 float64 `json:"avg60"`
		} `json:"some"`
	} `json:"pressure"`
	// Health variant.
	SwapUsedBytes     *uint64  `json:"swap_used_bytes"`
	PressureSomeAvg10 *float64 `json:"pressure_some_avg10"`
}

func analyzeMemory(in *input) []Finding {
	var d memoryData
	if !probe(in.doc, "memory", &d) {
		return nil
	}
	var out []Finding
	if f, ok := memoryPressure(&d); ok {
		out = append(out, f)
	}
	if f, ok := swapHeavy(in, &d); ok {
		out = append(out, f)
	}
	return out
}

func memoryPressure(d *memoryData) (Finding, bool) {
	ev := map[string]any{}
	var sev Severity
	var title string
	if d.UsedRatio != nil {
		ev["used_ratio"] = *d.UsedRatio
		ev["available_bytes"] = d.AvailableBytes
		if sev = level(*d.UsedRatio, MemoryUsedWarning, MemoryUsedCritical); sev != 0 {
			title = fmt.Sprintf("Memory is running short: %s in use, %s left", percent(*d.UsedRatio), bytesText(d.AvailableBytes))
		}
	}
	stall, window := 0.0, ""
	switch {
	case d.Pressure != nil && d.Pressure.Some != nil:
		stall, window = d.Pressure.Some.Avg60, "stall_some_avg60"
	case d.PressureSomeAvg10 != nil:
		stall, window = *d.PressureSomeAvg10, "stall_some_avg10"
	}
	if window != "" {
		ev[window] = stall
	}
	if stall >= MemoryStallWarning && sev == 0 {
		sev = Warning
		title = fmt.Sprintf("Programs spend %.0f%% of their time waiting for memory", stall)
	}
	if sev == 0 {
		return Finding{}, false
	}
	return Finding{ID: "memory.pressure", Severity: sev, Title: title, Evidence: ev}, true
}

// swapHeavy compares the swap in use with the memory's size: from the
// probe when it says, else from the snapshot's facts.
func swapHeavy(in *input, d *memoryData) (Finding, bool) {
	var used uint64
	switch {
	case d.Swap != nil:
		used = d.Swap.UsedBytes
	case d.SwapUsedBytes != nil:
		used = *d.SwapUsedBytes
	default:
		return Finding{}, false
	}
	ram := d.TotalBytes
	if ram == 0 && in.doc.Facts != nil {
		ram = in.doc.Facts.MemoryBytes
	}
	if ram == 0 || float64(used) < SwapHeavyRatio*float64(ram) {
		return Finding{}, false
	}
	ev := map[string]any{"swap_used_bytes": used, "memory_bytes": ram}
	if d.Swap != nil {
		ev["swap_total_bytes"] = d.Swap.TotalBytes
	}
	return Finding{
		ID: "memory.swap-heavy", Severity: Warning, Evidence: ev,
		Title: fmt.Sprintf("%s of memory is swapped out to disk, %s of the memory's size",
			bytesText(used), percent(float64(used)/float64(ram))),
	}, true
}

// bytesText says a size in binary units, as people read them.
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

package diff

import (
	"encoding/json"
	"fmt"
	"math"
)

// cpuData is what the diff reads of the cpu probe: the full result nests
// usage ({"total": ...}) and load, the health sample has them flat.
type cpuData struct {
	LogicalCores int             `json:"logical_cores"`
	Usage        json.RawMessage `json:"usage_percent"`
	Load         *struct {
		Load1 *float64 `json:"load1"`
	} `json:"load"`
	Pressure  *pressure `json:"pressure"`
	Load1Flat *float64  `json:"load1"`
}

// pressure is a resource's pressure stall information.
type pressure struct {
	Some *struct {
		Avg60 *float64 `json:"avg60"`
	} `json:"some"`
}

// Thresholds past which resource figures count as a change: below them
// they are the noise of a machine at work.
const (
	cpuDeltaPP      = 30 // CPU use, percentage points
	cpuBusy         = 90 // CPU use that counts when crossed either way
	pressureDeltaPP = 10 // share of time stalled, percentage points
	loadDeltaCore   = 0.5
)

func (d *cpuData) usage() (float64, bool) {
	var full struct {
		Total *float64 `json:"total"`
	}
	var flat float64
	switch {
	case json.Unmarshal(d.Usage, &full) == nil && full.Total != nil:
		return *full.Total, true
	case json.Unmarshal(d.Usage, &flat) == nil:
		return flat, true
	}
	return 0, false
}

func (d *cpuData) load1() (float64, bool) {
	switch {
	case d.Load != nil && d.Load.Load1 != nil:
		return *d.Load.Load1, true
	case d.Load1Flat != nil:
		return *d.Load1Flat, true
	}
	return 0, false
}

// compareCPU compares the processor's use, load and pressure, each past
// its threshold, with before → after. The use is a sample of the last
// interval: it counts when it moved by 30 points or crossed 90 %.
func compareCPU(s *Section, p pair) {
	var a, b cpuData
	if !load(s, p, "cpu", &a, &b) {
		return
	}
	ua, oka := a.usage()
	ub, okb := b.usage()
	if oka && okb && finite(ua, ub) && (math.Abs(ub-ua) >= cpuDeltaPP || (ua < cpuBusy) != (ub < cpuBusy)) {
		s.add(Change{Kind: Changed, Subject: "CPU used", Before: fmt.Sprintf("%.0f%%", ua), After: fmt.Sprintf("%.0f%%", ub), Trend: trend(ub - ua)})
	}
	la, oka := a.load1()
	lb, okb := b.load1()
	cores := max(a.LogicalCores, b.LogicalCores, 1)
	if oka && okb && finite(la, lb) && math.Abs(lb-la) >= max(1, loadDeltaCore*float64(cores)) {
		s.add(Change{Kind: Changed, Subject: fmt.Sprintf("load (1 min, %d cores)", cores), Before: fmt.Sprintf("%.2f", la), After: fmt.Sprintf("%.2f", lb), Trend: trend(lb - la)})
	}
	comparePressure(s, "CPU pressure", a.Pressure, b.Pressure)
}

// comparePressure records a change of the share of the last minute that
// tasks stalled waiting for a resource.
func comparePressure(s *Section, subject string, a, b *pressure) {
	pa, oka := a.avg60()
	pb, okb := b.avg60()
	if oka && okb && math.Abs(pb-pa) >= pressureDeltaPP {
		s.add(Change{Kind: Changed, Subject: subject + " (stalled, last minute)", Before: fmt.Sprintf("%.0f%%", pa), After: fmt.Sprintf("%.0f%%", pb), Trend: trend(pb - pa)})
	}
}

func (p *pressure) avg60() (float64, bool) {
	if p == nil || p.Some == nil || p.Some.Avg60 == nil || !finite(*p.Some.Avg60) {
		return 0, false
	}
	return *p.Some.Avg60, true
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

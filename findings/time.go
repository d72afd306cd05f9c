package findings

import (
	"fmt"
	"math"
	"time"
)

func init() {
	register("time", []string{"time.clock-skew", "time.not-synced"}, analyzeTime)
}

// timeData is what the time analyzer reads of the time probe, full or
// health variant.
type timeData struct {
	Sync *struct {
		Known  bool `json:"known"`
		Synced bool `json:"synced"`
	} `json:"sync"`
	// Collector is the collector's clock minus this machine's.
	Collector *struct {
		Known    bool    `json:"known"`
		OffsetMS float64 `json:"offset_ms"`
		RTTMS    float64 `json:"rtt_ms"`
	} `json:"collector"`
	// Health variant.
	Synced    *bool `json:"synced"`
	SyncKnown *bool `json:"sync_known"`
}

func analyzeTime(in *input) []Finding {
	var d timeData
	if !probe(in.doc, "time", &d) {
		return nil
	}
	var out []Finding
	if c := d.Collector; c != nil && c.Known {
		// The offset less what the measurement cannot tell apart: half
		// the round trip.
		skew := math.Max(0, math.Abs(c.OffsetMS)-math.Abs(c.RTTMS)/2)
		sev := level(skew, ms(ClockSkewWarning), ms(ClockSkewCritical))
		if sev != 0 {
			way := "behind"
			if c.OffsetMS < 0 {
				way = "ahead of"
			}
			out = append(out, Finding{
				ID: "time.clock-skew", Severity: sev,
				Title:    fmt.Sprintf("This machine's clock is %s %s the support server's", roughSeconds(math.Abs(c.OffsetMS)), way),
				Evidence: map[string]any{"offset_ms": c.OffsetMS, "rtt_ms": c.RTTMS},
			})
		}
	}
	known, synced := false, false
	switch {
	case d.Sync != nil:
		known, synced = d.Sync.Known, d.Sync.Synced
	case d.SyncKnown != nil && d.Synced != nil:
		known, synced = *d.SyncKnown, *d.Synced
	}
	if known && !synced {
		// Info whatever else the snapshot holds, so that every path
		// (live, imported, local check) rates it alike: a clock that
		// drifted far enough to matter is time.clock-skew, measured.
		out = append(out, Finding{
			ID: "time.not-synced", Severity: Info,
			Title:    "This machine's clock is not kept in sync with a time server",
			Evidence: map[string]any{"synced": false},
		})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// roughSeconds says an offset in milliseconds the way a person would.
func roughSeconds(offsetMS float64) string {
	if offsetMS < 120_000 {
		return fmt.Sprintf("%.0f seconds", offsetMS/1000)
	}
	return roughly(time.Duration(math.Min(offsetMS, 1e12) * float64(time.Millisecond)))
}

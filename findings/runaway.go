package findings

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// maxWindow bounds the window a sample's CPU use is over, as taken from
// the snapshot: a year is more than any process's life since boot.
const maxWindow = 366 * 24 * time.Hour

// runaway returns process.runaway when top, the busiest process of the
// snapshot, has held RunawayPercent of one core or more over a run of
// samples: the snapshot and the older ones before it without a break,
// each naming the same process at RunawayPercent or more, at most
// RunawayMaxGap apart (or as far apart as the newer one's window, which
// covers the time between), for RunawayMinSpan or longer counting the
// oldest one's window. A machine of one core has none: the process is the
// whole machine, which process.cpu-hog (and the HighCPU alert) say.
func runaway(in *input, top procEntry, cores int) (Finding, bool) {
	if cores < 2 || top.CPUPercent < RunawayPercent {
		return Finding{}, false
	}
	newest := in.doc.CapturedAt
	history := slices.Clone(in.history)
	slices.SortStableFunc(history, func(a, b *protocol.Document) int { return b.CapturedAt.Compare(a.CapturedAt) })
	oldest, last := newest, top
	samples, low, mean := 1, top.CPUPercent, top.CPUPercent
	for _, h := range history {
		if !h.CapturedAt.Before(oldest) {
			continue // not older: a duplicate, or out of order
		}
		if oldest.Sub(h.CapturedAt) > max(RunawayMaxGap, window(last)) {
			break
		}
		var d processesData
		if !probe(h, "processes", &d) {
			break
		}
		e, ok := d.find(top)
		if !ok || e.CPUPercent < RunawayPercent {
			break
		}
		oldest, last = h.CapturedAt, e
		samples, low = samples+1, min(low, e.CPUPercent)
		mean += (e.CPUPercent - mean) / float64(samples) // no sum to overflow
	}
	since := oldest.Add(-window(last))
	if top.Started > 0 && since.Unix() < top.Started {
		since = time.Unix(top.Started, 0) // nothing ran before the process
	}
	held := newest.Sub(since)
	if held < RunawayMinSpan {
		return Finding{}, false
	}
	ev := map[string]any{"pid": top.PID, "name": clip(top.Name), "cpu_percent": top.CPUPercent, "cpu_percent_min": low,
		"cpu_percent_avg": hundredths(mean), "held_seconds": int64(held / time.Second), "since": since.Unix(), "samples": samples, "cpus": cores}
	busy := "one of the"
	if n := math.Round(low / 100); n >= 2 {
		busy = fmt.Sprintf("%.0f of the", n)
	}
	title := fmt.Sprintf("The program %s has kept %s %d processor cores busy for %s", top.named(), busy, cores, roughly(held))
	return Finding{ID: "process.runaway", Severity: Warning, Subject: clip(top.Name), Evidence: top.evidence(ev), Title: title}, true
}

// window returns the time e's CPU use is over, at most maxWindow; 0
// where unknown.
func window(e procEntry) time.Duration {
	w := e.WindowSeconds
	switch {
	case !(w > 0):
		return 0
	case w >= maxWindow.Seconds():
		return maxWindow
	}
	return time.Duration(w * float64(time.Second))
}

// hundredths rounds x to two decimals, where that stays finite.
func hundredths(x float64) float64 {
	if r := math.Round(x*100) / 100; !math.IsInf(r, 0) {
		return r
	}
	return x
}

package alert

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxLabelLen bounds a label value taken from a snapshot.
const maxLabelLen = 256

// field is one entry of the catalogue: a selector and how to read it.
type field struct {
	name   string
	help   string
	labels []string
	// counter says the value only grows (until a restart), so rate()
	// applies.
	counter bool
	// agent reads the evaluation input; doc reads a snapshot. One is set.
	agent func(c *evalCtx) []sample
	doc   func(c *evalCtx, v *docView) []sample
}

func (f *field) hasLabel(name string) bool { return slices.Contains(f.labels, name) }

// samples returns the field's series in the snapshot v (agent fields
// ignore v), at most maxSeries.
func (f *field) samples(c *evalCtx, v *docView) []sample {
	var out []sample
	switch {
	case f.agent != nil:
		out = f.agent(c)
	case v != nil:
		out = f.doc(c, v)
	}
	if len(out) > maxSeries {
		out = out[:maxSeries]
	}
	return out
}

// FieldInfo describes a field of the expression language.
type FieldInfo struct {
	Name    string   `json:"name"`
	Help    string   `json:"help"`
	Labels  []string `json:"labels,omitempty"`
	Counter bool     `json:"counter,omitempty"`
}

// Fields returns the catalogue of fields an expression may use, sorted by
// name.
func Fields() []FieldInfo {
	out := make([]FieldInfo, 0, len(catalogue))
	for _, name := range fieldNames() {
		f := catalogue[name]
		out = append(out, FieldInfo{Name: f.name, Help: f.help, Labels: slices.Clone(f.labels), Counter: f.counter})
	}
	return out
}

func fieldNames() []string {
	names := make([]string, 0, len(catalogue))
	for n := range catalogue {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func counterNames() []string {
	var names []string
	for _, n := range fieldNames() {
		if catalogue[n].counter {
			names = append(names, n)
		}
	}
	return names
}

// one is a series without labels.
func one(v float64) []sample { return []sample{{labels: map[string]string{}, value: v}} }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// clip bounds an untrusted label value without leaving half a rune.
func clip(s string) string {
	if len(s) > maxLabelLen {
		s = s[:maxLabelLen]
	}
	return strings.ToValidUTF8(s, "")
}

// decoded returns the data of the snapshot's probe name decoded into a T,
// or nil when the probe is absent, failed, or does not decode. The first
// probe of that name counts; the result is cached for the evaluation.
func decoded[T any](v *docView, name string) *T {
	if x, ok := v.cache[name]; ok {
		t, _ := x.(*T)
		return t
	}
	if v.cache == nil {
		v.cache = map[string]any{}
	}
	var out *T
	for _, p := range v.doc.Probes {
		if p.Name != name {
			continue
		}
		if p.Error == "" && len(p.Data) > 0 {
			t := new(T)
			if json.Unmarshal(p.Data, t) == nil {
				out = t
			}
		}
		break
	}
	v.cache[name] = out
	return out
}

// The minimal views of the health probes' data; pointers tell a field
// absent from one zero.
type (
	cpuData struct {
		// UsagePercent is a number in the health variant, an object with
		// a total in the full one.
		UsagePercent json.RawMessage `json:"usage_percent"`
		Load1        *float64        `json:"load1"`
		Load5        *float64        `json:"load5"`
		Load15       *float64        `json:"load15"`
	}
	memoryData struct {
		UsedRatio         *float64 `json:"used_ratio"`
		AvailableBytes    *float64 `json:"available_bytes"`
		SwapUsedBytes     *float64 `json:"swap_used_bytes"`
		PressureSomeAvg10 *float64 `json:"pressure_some_avg10"`
	}
	diskData struct {
		Mounts []struct {
			Mountpoint      string   `json:"mountpoint"`
			UsedRatio       *float64 `json:"used_ratio"`
			InodesUsedRatio *float64 `json:"inodes_used_ratio"`
		} `json:"mounts"`
	}
	networkData struct {
		Interfaces []struct {
			Name    string   `json:"name"`
			RxBytes *float64 `json:"rx_bytes"`
			TxBytes *float64 `json:"tx_bytes"`
			Errors  *float64 `json:"errors"`
			Drops   *float64 `json:"drops"`
		} `json:"interfaces"`
		DefaultRoute *bool    `json:"default_route"`
		Resolvers    *int     `json:"resolvers"`
		Errors       []string `json:"errors"`
	}
	servicesData struct {
		FailedUnits []string `json:"failed_units"`
	}
	processesData struct {
		// Top is the busiest process over the health interval.
		Top *struct {
			PID        int64    `json:"pid"`
			Name       string   `json:"name"`
			CPUPercent *float64 `json:"cpu_percent"`
			Started    int64    `json:"started"`
			Cmdline    string   `json:"cmdline"`
		} `json:"top"`
	}
	timeData struct {
		Synced    *bool `json:"synced"`
		SyncKnown *bool `json:"sync_known"`
		Collector *struct {
			Known    bool    `json:"known"`
			OffsetMS float64 `json:"offset_ms"`
			RTTMS    float64 `json:"rtt_ms"`
		} `json:"collector"`
	}
)

// scalar makes a field of a probe's optional number.
func scalar[T any](probe string, get func(*T) *float64) func(*evalCtx, *docView) []sample {
	return func(_ *evalCtx, v *docView) []sample {
		if d := decoded[T](v, probe); d != nil {
			if x := get(d); x != nil {
				return one(*x)
			}
		}
		return nil
	}
}

// mounts makes a per-mount field of the disk probe.
func mounts(get func(used, inodes *float64) *float64) func(*evalCtx, *docView) []sample {
	return func(_ *evalCtx, v *docView) []sample {
		d := decoded[diskData](v, "disk")
		if d == nil {
			return nil
		}
		var out []sample
		for _, m := range d.Mounts {
			if x := get(m.UsedRatio, m.InodesUsedRatio); x != nil && m.Mountpoint != "" && len(out) < maxSeries {
				out = append(out, sample{labels: map[string]string{"mountpoint": clip(m.Mountpoint)}, value: *x})
			}
		}
		return out
	}
}

// interfaces makes a per-interface counter of the network probe.
func interfaces(get func(rx, tx, errs, drops *float64) *float64) func(*evalCtx, *docView) []sample {
	return func(_ *evalCtx, v *docView) []sample {
		d := decoded[networkData](v, "network")
		if d == nil {
			return nil
		}
		var out []sample
		for _, i := range d.Interfaces {
			if x := get(i.RxBytes, i.TxBytes, i.Errors, i.Drops); x != nil && i.Name != "" && len(out) < maxSeries {
				out = append(out, sample{labels: map[string]string{"interface": clip(i.Name)}, value: *x})
			}
		}
		return out
	}
}

func cpuUsage(_ *evalCtx, v *docView) []sample {
	d := decoded[cpuData](v, "cpu")
	if d == nil || len(d.UsagePercent) == 0 {
		return nil
	}
	var x float64
	if json.Unmarshal(d.UsagePercent, &x) == nil {
		return one(x)
	}
	var full struct {
		Total *float64 `json:"total"`
	}
	if json.Unmarshal(d.UsagePercent, &full) == nil && full.Total != nil {
		return one(*full.Total)
	}
	return nil
}

// topProcess is the busiest process's CPU use in percent of one core,
// labelled with what names it: PID, name, command line (scrubbed on the
// agent) and start time (RFC 3339, UTC).
func topProcess(_ *evalCtx, v *docView) []sample {
	d := decoded[processesData](v, "processes")
	if d == nil || d.Top == nil || d.Top.CPUPercent == nil || d.Top.PID <= 0 {
		return nil
	}
	t := d.Top
	labels := map[string]string{"pid": strconv.FormatInt(t.PID, 10), "process": clip(t.Name)}
	if t.Cmdline != "" {
		labels["cmdline"] = clip(t.Cmdline)
	}
	if t.Started > 0 && t.Started < maxUnixSeconds {
		labels["started"] = time.Unix(t.Started, 0).UTC().Format(time.RFC3339)
	}
	return []sample{{labels: labels, value: *t.CPUPercent}}
}

// maxUnixSeconds bounds a start time taken for a date: the year 9999.
const maxUnixSeconds = 253402300800

// cpuCores is the machine's logical CPU count, from the agent's facts.
func cpuCores(c *evalCtx) []sample {
	n := c.in.CPUs
	if n <= 0 && c.cur != nil && c.cur.doc.Facts != nil {
		n = c.cur.doc.Facts.CPUs
	}
	if n <= 0 {
		return nil
	}
	return one(float64(n))
}

func failedUnits(_ *evalCtx, v *docView) []sample {
	d := decoded[servicesData](v, "services")
	if d == nil {
		return nil
	}
	var out []sample
	for _, u := range d.FailedUnits {
		if u != "" && len(out) < maxSeries {
			out = append(out, sample{labels: map[string]string{"unit": clip(u)}, value: 1})
		}
	}
	return out
}

func failedCount(_ *evalCtx, v *docView) []sample {
	if d := decoded[servicesData](v, "services"); d != nil && d.FailedUnits != nil {
		return one(float64(len(d.FailedUnits)))
	}
	return nil
}

// failedTo reports whether the network probe said it could not read
// something: its errors start with what it was doing.
func (d *networkData) failedTo(what string) bool {
	return slices.ContainsFunc(d.Errors, func(e string) bool { return strings.HasPrefix(e, what) })
}

// dnsFailing is 1 when no DNS server is configured. It is known only
// where the agent reads /etc/resolv.conf: a known operating system other
// than Windows, and no error reading it.
func dnsFailing(c *evalCtx, v *docView) []sample {
	d := decoded[networkData](v, "network")
	if d == nil || d.Resolvers == nil || c.os == "" || c.os == "windows" || d.failedTo("reading resolver configuration") {
		return nil
	}
	return one(boolValue(*d.Resolvers == 0))
}

// defaultRoute is read on Linux only; elsewhere the agent says false.
func defaultRoute(c *evalCtx, v *docView) []sample {
	d := decoded[networkData](v, "network")
	if d == nil || d.DefaultRoute == nil || c.os != "linux" || d.failedTo("reading routes") {
		return nil
	}
	return one(boolValue(*d.DefaultRoute))
}

// collectorOffset is the clock offset from the collector less half the
// round trip of its measurement (what it cannot tell apart), in seconds.
func collectorOffset(_ *evalCtx, v *docView) []sample {
	d := decoded[timeData](v, "time")
	if d == nil || d.Collector == nil || !d.Collector.Known {
		return nil
	}
	return one(math.Max(0, math.Abs(d.Collector.OffsetMS)-math.Abs(d.Collector.RTTMS)/2) / 1000)
}

func timeSynced(_ *evalCtx, v *docView) []sample {
	d := decoded[timeData](v, "time")
	if d == nil || d.Synced == nil || d.SyncKnown == nil || !*d.SyncKnown {
		return nil
	}
	return one(boolValue(*d.Synced))
}

func agentOnline(c *evalCtx) []sample { return one(boolValue(c.in.Online)) }

// recentFaults is 1 for each trigger of a fault snapshot captured within
// FaultWindow.
func recentFaults(c *evalCtx) []sample {
	var out []sample
	seen := map[string]bool{}
	for _, f := range c.in.Faults {
		if seen[f.Trigger] || f.Trigger == "" || c.now.Sub(f.CapturedAt) > FaultWindow || len(out) >= maxSeries {
			continue
		}
		seen[f.Trigger] = true
		out = append(out, sample{labels: map[string]string{"trigger": clip(f.Trigger)}, value: 1})
	}
	return out
}

// offlineSeconds is 0 while the agent is connected, else the time since
// it was last seen; unknown for an agent never seen.
func offlineSeconds(c *evalCtx) []sample {
	if c.in.Online {
		return one(0)
	}
	if c.in.LastSeen.IsZero() {
		return nil
	}
	return one(math.Max(0, c.now.Sub(c.in.LastSeen).Seconds()))
}

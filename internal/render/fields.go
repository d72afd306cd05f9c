package render

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// A unit turns a number into text for people; probes name their fields
// by what they hold (rss_bytes, uptime_seconds, rx_rate_mbps, boot_time),
// and unitOf reads the unit back from the name. A field whose name says
// nothing is shown as the number it is.
type unit struct {
	show func(v float64, now time.Time) string
	// instant is set for a point in time, whose name says nothing of the
	// fields inside it (power_on_time: {hours: 9}).
	instant bool
}

// unitOf returns the unit a field's name gives its numbers, or nil.
func unitOf(key string) *unit {
	k := strings.ToLower(key)
	if u, ok := named[k]; ok {
		return u
	}
	for _, s := range suffixes {
		if strings.HasSuffix(k, s.suffix) {
			return s.unit
		}
	}
	if strings.HasPrefix(k, "bytes_") { // bytes_read, bytes_written
		return byteCount
	}
	return nil
}

var (
	byteCount = plain(Bytes)
	seconds   = plain(Seconds)
	// epoch is a time in Unix seconds; 0 is what probes give when they do
	// not know it.
	epoch = &unit{instant: true, show: func(v float64, now time.Time) string {
		if v == 0 {
			return "unknown"
		}
		if math.Abs(v) > maxEpoch {
			return strconv.FormatFloat(v, 'f', -1, 64) // not a time a machine keeps
		}
		return Time(time.Unix(int64(v), 0), now)
	}}
	percent = plain(func(v float64) string { return number(v) + " %" })
)

// maxEpoch bounds the Unix times shown as times: year 5138 and back.
const maxEpoch = 1e11

// plain is a unit that needs no clock.
func plain(f func(float64) string) *unit {
	return &unit{show: func(v float64, _ time.Time) string { return f(v) }}
}

// named are fields whose whole name gives their unit.
var named = map[string]*unit{
	"bytes":          byteCount,
	"spool_cap":      byteCount,
	"boot_time":      epoch,
	"started":        epoch,
	"since":          epoch,
	"until":          epoch,
	"hours":          scaled(3600),
	"hours_to_empty": scaled(3600),
	"minutes":        scaled(60),
}

// suffixes are tried in order: the longer of two that overlap first.
var suffixes = []struct {
	suffix string
	unit   *unit
}{
	{"_bytes_per_second", plain(ByteRate)},
	{"_bytes", byteCount},
	{"_mbps", plain(func(v float64) string { return BitRate(v * 1e6) })},
	{"_kbps", plain(func(v float64) string { return BitRate(v * 1e3) })},
	{"_bits_per_second", plain(BitRate)},
	{"_seconds", seconds},
	{"_s", seconds},
	{"_ms", scaled(1e-3)},
	{"_us", scaled(1e-6)},
	{"_minutes", scaled(60)},
	{"_hours", scaled(3600)},
	{"_at", epoch},
	{"_time", epoch},
	{"_percent", percent},
	{"_ratio", plain(func(v float64) string { return number(v*100) + " %" })},
	{"_mhz", label("MHz")},
	{"_c", label("°C")},
	{"_dbm", label("dBm")},
	{"_mwh", label("mWh")},
	{"_mw", label("mW")},
	{"_ppm", label("ppm")},
}

// scaled is a duration counted in units of the given seconds.
func scaled(perUnit float64) *unit {
	return plain(func(v float64) string { return Seconds(v * perUnit) })
}

// label writes a number with its unit's symbol.
func label(symbol string) *unit {
	return plain(func(v float64) string { return number(v) + " " + symbol })
}

// number writes v with at most two decimals, and none it does not need.
func number(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// timeText turns a string holding an RFC 3339 time into "3 days ago,
// 2026-12-03 14:02 UTC"; other strings are not times.
func timeText(s string, now time.Time) (string, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > len(time.RFC3339Nano)+6 || s[4] != '-' || s[10] != 'T' {
		return "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", false
	}
	return Time(t, now), true
}

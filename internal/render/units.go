package render

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Bytes formats a byte count in binary units ("27 MiB", "1.5 GiB",
// "512 B"), so that people read sizes, not digits.
func Bytes(n float64) string {
	return binary(n, "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
}

// ByteRate formats bytes per second in binary units ("3.4 MiB/s").
func ByteRate(perSecond float64) string {
	return binary(perSecond, "B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s", "PiB/s", "EiB/s")
}

// BitRate formats bits per second in decimal units, as links and radios
// are rated ("1.2 Gbit/s", "54 Mbit/s").
func BitRate(perSecond float64) string {
	units := []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"}
	sign, v := signOf(perSecond)
	i := 0
	for math.Abs(v) >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return sign + short(v) + " " + units[i]
}

func binary(n float64, units ...string) string {
	sign, v := signOf(n)
	i := 0
	for v >= 1023.5 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return sign + strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " " + units[0]
	}
	return sign + short(v) + " " + units[i]
}

// short writes a positive number with about three significant digits: one
// decimal below 10, none above, no ".0".
func short(v float64) string {
	digits := 0
	if v < 9.95 {
		digits = 1
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	return strings.TrimSuffix(s, ".0")
}

func signOf(v float64) (string, float64) {
	if v < 0 {
		return "-", -v
	}
	return "", v
}

// maxSeconds bounds the spans Seconds writes in days and hours, far
// beyond any real one (some 30 million years), so that the day count fits
// an int64 whatever an agent sends.
const maxSeconds = 1e15

// Duration formats a span of time in its two largest units ("3 days 4 h",
// "4 min 12 s", "1.5 s", "250 ms", "40 µs"): precise enough to act on,
// short enough to read.
func Duration(d time.Duration) string {
	return Seconds(d.Seconds())
}

// Seconds is Duration for a count of seconds, which may hold fractions
// of a millisecond that a time.Duration would keep too.
func Seconds(s float64) string {
	sign, v := signOf(s)
	if math.IsNaN(v) || v > maxSeconds {
		return strconv.FormatFloat(s, 'g', 4, 64) + " s" // nothing a machine measures: show what was sent
	}
	switch ms := v * 1000; {
	case v == 0:
		return "0 s"
	case ms*1000 < 0.995:
		return sign + short(ms*1e6) + " ns"
	case ms < 0.995:
		return sign + short(ms*1000) + " µs"
	case ms < 999.5:
		return sign + short(ms) + " ms"
	case v < 59.5:
		return sign + short(v) + " s"
	}
	total := int64(math.Round(v))
	days, hours, mins, secs := total/86400, total/3600%24, total/60%60, total%60
	switch {
	case days > 0:
		return sign + pair(days, plural(days, "day", "days"), hours, "h")
	case hours > 0:
		return sign + pair(hours, "h", mins, "min")
	}
	return sign + pair(mins, "min", secs, "s")
}

// pair writes "3 days 4 h", leaving out a zero second part.
func pair(a int64, aUnit string, b int64, bUnit string) string {
	s := strconv.FormatInt(a, 10) + " " + aUnit
	if b > 0 {
		s += " " + strconv.FormatInt(b, 10) + " " + bUnit
	}
	return s
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Ago says how long before now t was, in its largest unit ("4 min ago",
// "3 days ago", "in 2 h" for a time ahead of now): a glance at freshness.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "in " + roughly(-d)
	}
	if d < 5*time.Second {
		return "just now"
	}
	return roughly(d) + " ago"
}

// roughly is a positive span in one unit, rounded down.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	days := int64(d / (24 * time.Hour))
	return strconv.FormatInt(days, 10) + " " + plural(days, "day", "days")
}

// Stamp is the absolute form of a time in every view: UTC, to the minute
// ("2026-12-03 14:02 UTC"), the same for people in different zones.
func Stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Time is a time as people want it: how long ago, then when ("3 days ago,
// 2026-12-03 14:02 UTC"); "never" for the zero time.
func Time(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return Ago(t, now) + ", " + Stamp(t)
}

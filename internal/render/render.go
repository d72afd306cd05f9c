// Package render prints snapshots for people, in the CLI, the web UI and
// the agent's own text output alike: each probe a section, its JSON data
// as indented "key: value" lines, numbers in the units their names say,
// times as how long ago and when; and makes untrusted text safe for a
// terminal (Clean).
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Document writes d as text, as it is now: a snapshot just taken.
func Document(w io.Writer, d *protocol.Document) error {
	return Snapshot(w, d, Age{}, time.Now())
}

// Snapshot writes a stored snapshot as text at time now: each probe a
// section, its data as "key: value" lines in the units the keys name
// (27 MiB, 1.2 Gbit/s, 3 days 4 h, times as "3 days ago, 2026-12-03
// 14:02 UTC"). The lists that change by the minute (see Fleeting) say how
// old they are, and that they may be stale when age says so.
func Snapshot(w io.Writer, d *protocol.Document, age Age, now time.Time) error {
	var b strings.Builder
	b.WriteString("snapshot ")
	if age.SnapshotID != 0 {
		fmt.Fprintf(&b, "%d ", age.SnapshotID)
	}
	fmt.Fprintf(&b, "(%s) captured %s", d.Kind, Time(d.CapturedAt, now))
	if d.AgentID != "" {
		fmt.Fprintf(&b, " by agent %s", d.AgentID)
	}
	b.WriteString("\n")
	if age.CapturedAt.IsZero() {
		age.CapturedAt = d.CapturedAt
	}
	for _, p := range d.Probes {
		fmt.Fprintf(&b, "\n== %s (%s)", p.Name, Seconds(p.DurationMS/1000))
		if Fleeting(p.Name) {
			fmt.Fprintf(&b, ", %s", age.AsOf(now))
		}
		b.WriteString("\n")
		if Fleeting(p.Name) && age.Stale() {
			fmt.Fprintf(&b, "  NOTE: %s\n", age.StaleNote("this list"))
		}
		if p.Error != "" {
			fmt.Fprintf(&b, "  ERROR: %s\n", Clean(p.Error))
		}
		if len(p.Data) > 0 {
			data(&b, p.Data, 1, now)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	return nil
}

// Data writes one probe's JSON data as "key: value" lines, the way
// Snapshot shows each probe at time now, without the indent of its
// section.
func Data(w io.Writer, raw json.RawMessage, now time.Time) error {
	var b strings.Builder
	data(&b, raw, 0, now)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing probe data: %w", err)
	}
	return nil
}

func data(b *strings.Builder, raw json.RawMessage, depth int, now time.Time) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		fmt.Fprintf(b, "%s(data not readable: %v)\n", strings.Repeat("  ", depth), err)
		return
	}
	p := printer{b: b, now: now}
	p.value(v, depth, nil)
}

// printer writes decoded JSON as indented lines, numbers in the units
// their keys name (see unitOf), times relative to now.
type printer struct {
	b   *strings.Builder
	now time.Time
}

// value writes v; u is the unit its key gave it, which the scalars inside
// an object or list without a unit of their own take too (usage_percent:
// {user: 12}), except times (power_on_time: {hours: 9}).
func (p printer) value(v any, depth int, u *unit) {
	indent := strings.Repeat("  ", depth)
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ku := unitOf(k)
			if ku == nil {
				ku = u
			}
			if scalar(v[k]) {
				fmt.Fprintf(p.b, "%s%s: %s\n", indent, Clean(k), p.format(v[k], ku))
				continue
			}
			if empty(v[k]) {
				continue
			}
			fmt.Fprintf(p.b, "%s%s:\n", indent, Clean(k))
			p.value(v[k], depth+1, inherited(ku))
		}
	case []any:
		for _, e := range v {
			if scalar(e) {
				fmt.Fprintf(p.b, "%s- %s\n", indent, p.format(e, u))
				continue
			}
			fmt.Fprintf(p.b, "%s-\n", indent)
			p.value(e, depth+1, inherited(u))
		}
	default:
		fmt.Fprintf(p.b, "%s%s\n", indent, p.format(v, u))
	}
}

// inherited is the unit an object's or list's members take from its key.
func inherited(u *unit) *unit {
	if u == nil || u.instant {
		return nil
	}
	return u
}

func scalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func empty(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// format writes a scalar: a number in unit u when it has one, a string
// holding a time as a time, any other string made safe for a terminal.
func (p printer) format(v any, u *unit) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if t, ok := timeText(v, p.now); ok {
			return t
		}
		return Clean(v)
	case json.Number:
		if f, err := v.Float64(); err == nil && u != nil {
			return u.show(f, p.now)
		}
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// Clean makes an untrusted string safe for a terminal: control characters
// (escape sequences among them) are shown as \x.. instead of acting.
func Clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Lines splits untrusted multi-line text, a note say, into lines made safe
// for a terminal (see Clean): line breaks break lines rather than showing
// as \x0a, and nothing else can act.
func Lines(s string) []string {
	s = strings.ReplaceAll(strings.TrimRight(s, "\r\n"), "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Clean(strings.ReplaceAll(l, "\t", "    "))
	}
	return lines
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

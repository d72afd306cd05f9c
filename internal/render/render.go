// Package render prints snapshots for people: each probe a section, its
// JSON data as indented "key: value" lines.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sondehq/sonde/protocol"
)

// Document writes d as text.
func Document(w io.Writer, d *protocol.Document) error {
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot (%s) captured %s", d.Kind, d.CapturedAt.Local().Format("2006-01-02 15:04:05 MST"))
	if d.AgentID != "" {
		fmt.Fprintf(&b, " by agent %s", d.AgentID)
	}
	b.WriteString("\n")
	for _, p := range d.Probes {
		fmt.Fprintf(&b, "\n== %s (%.1f ms)\n", p.Name, p.DurationMS)
		if p.Error != "" {
			fmt.Fprintf(&b, "  ERROR: %s\n", Clean(p.Error))
		}
		if len(p.Data) > 0 {
			data(&b, p.Data, 1)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	return nil
}

// Data writes one probe's JSON data as "key: value" lines, the way
// Document shows each probe, without the indent of its section.
func Data(w io.Writer, raw json.RawMessage) error {
	var b strings.Builder
	data(&b, raw, 0)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing probe data: %w", err)
	}
	return nil
}

func data(b *strings.Builder, raw json.RawMessage, depth int) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		fmt.Fprintf(b, "%s(data not readable: %v)\n", strings.Repeat("  ", depth), err)
		return
	}
	value(b, v, depth)
}

func value(b *strings.Builder, v any, depth int) {
	indent := strings.Repeat("  ", depth)
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if scalar(v[k]) {
				fmt.Fprintf(b, "%s%s: %s\n", indent, Clean(k), format(v[k]))
				continue
			}
			if empty(v[k]) {
				continue
			}
			fmt.Fprintf(b, "%s%s:\n", indent, Clean(k))
			value(b, v[k], depth+1)
		}
	case []any:
		for _, e := range v {
			if scalar(e) {
				fmt.Fprintf(b, "%s- %s\n", indent, format(e))
				continue
			}
			fmt.Fprintf(b, "%s-\n", indent)
			value(b, e, depth+1)
		}
	default:
		fmt.Fprintf(b, "%s%s\n", indent, format(v))
	}
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

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return Clean(v)
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

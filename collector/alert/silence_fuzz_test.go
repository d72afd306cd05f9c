package alert

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParseMatchers feeds arbitrary text to the silence matcher parser. A
// refusal returns nothing; accepted matchers make a valid silence and
// print back to text that parses to the same matchers.
func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{
		"mountpoint=/", "alertname=DiskAlmostFull,mountpoint=/home", " severity = critical , hostname=web-01",
		"a=b=c", "a=", "=b", "a", "", ",", "a=b,,c=d", "9a=b", "_x=\xff", "a=b,c",
	} {
		f.Add(s)
	}
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			if ms != nil {
				t.Fatalf("returned %v with error %v", ms, err)
			}
			return
		}
		if len(ms) == 0 || len(ms) != strings.Count(s, ",")+1 {
			t.Fatalf("%q gives %d matchers", s, len(ms))
		}
		sil := Silence{ID: "s1", Matchers: ms, StartsAt: start, EndsAt: start.Add(time.Hour)}
		if err := sil.Validate(); err != nil {
			t.Fatalf("matchers of %q make an invalid silence: %v", s, err)
		}
		parts := make([]string, len(ms))
		for i, m := range ms {
			parts[i] = m.String()
		}
		again, err := ParseMatchers(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, ms) {
			t.Fatalf("%q: matchers %v print as %q, which parses to %v, %v", s, ms, strings.Join(parts, ","), again, err)
		}
		labels := map[string]string{}
		for _, m := range ms {
			labels[m.Name] = m.Value
		}
		if ok := sil.Matches(labels); ok != consistent(ms) {
			t.Fatalf("silence %v matches its own labels: %v", ms, ok)
		}
	})
}

// consistent reports whether no two matchers want the same label with
// different values.
func consistent(ms []Matcher) bool {
	want := map[string]string{}
	for _, m := range ms {
		if v, ok := want[m.Name]; ok && v != m.Value {
			return false
		}
		want[m.Name] = m.Value
	}
	return true
}

package render

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzData feeds arbitrary JSON, as an agent could send it, to the text
// views: nothing may panic, and what comes out is valid UTF-8 (for valid
// input) with no control character but the newlines between lines.
func FuzzData(f *testing.F) {
	goldens, _ := filepath.Glob("../../agent/probe/testdata/*/*/expected.json")
	for _, g := range goldens[:min(len(goldens), 12)] {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"uptime_seconds": 1e300, "boot_time": -1e300, "rx_bytes": 1.8e308, "x_ms": -5e-324}`,
		`{"since": "2026-12-03T14:02:00Z", "until": "9999-12-31T23:59:59.999999999+14:00", "t": "2026-12-03T14:02:00\u001b[2J"}`,
		`{"usage_percent": {"a": [1, {"b": 2}]}, "power_on_time": {"x": 5}, "evil\u001b]0;x\u0007": 1}`,
		`[1, "two", null, true]`, `"text"`, `{`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		var out strings.Builder
		if err := Data(&out, json.RawMessage(b), now); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if utf8.Valid(b) && !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", s)
		}
		for _, r := range s {
			if r != '\n' && isControl(r) {
				t.Fatalf("control character %U in %q", r, s)
			}
		}
	})
}

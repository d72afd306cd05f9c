package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseDocument feeds arbitrary bytes to the offline snapshot import.
// A refusal is an ErrInvalid and returns nothing; an accepted document is
// a valid snapshot filed under the given agent, with a sequence number
// derived from the content alone, that encodes and decodes back to itself.
func FuzzParseDocument(f *testing.F) {
	// Real documents: the findings cases, as `sonde-agent snapshot` writes them.
	cases, err := filepath.Glob("../findings/testdata/*/snapshot.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range cases {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if _, _, err := ParseDocument(b, testAgentID); err != nil {
			f.Fatalf("%s: a real document is refused: %v", name, err)
		}
		f.Add(b)
	}
	// The golden snapshot, full and health, with and without facts.
	for _, g := range goldenMessages() {
		snap, ok := g.msg.(*Snapshot)
		if !ok {
			continue
		}
		d := snap.Document()
		if _, _, err := ParseDocument(mustJSON(d), testAgentID); err != nil {
			f.Fatalf("the golden %s is refused: %v", g.name, err)
		}
		f.Add(mustJSON(d))
		facts := testFacts
		d.Facts = &facts
		f.Add(mustJSON(d))
		d.Kind = "health"
		d.Trigger = "disk-full"
		f.Add(mustJSON(d))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z"}`,
		`{"kind":"health","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"cpu","duration_ms":1.5,"data":{"load1":0.5}}]}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"cpu","duration_ms":-1}]}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"cpu","duration_ms":1e300}]}`,
		`{"kind":"full","captured_at":"1969-12-31T23:59:59Z"}`,
		`{"kind":"full","captured_at":"9999-12-31T23:59:59Z"}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"cpu","data":"\ud800"}]}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","facts":{"hostname":"\u00ff","cpus":-1}}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"cpu"},{"name":"cpu"}]}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","extra":1}`,
		`{"kind":"full","captured_at":"2026-11-24T12:00:00Z"} trailing`,
		// Invalid UTF-8 in probe data, and in a probe's error.
		"{\"kind\":\"full\",\"captured_at\":\"2026-11-24T12:00:00Z\",\"probes\":[{\"name\":\"files\",\"data\":{\"path\":\"caf\xe9\"}}]}",
		"{\"kind\":\"full\",\"captured_at\":\"2026-11-24T12:00:00Z\",\"probes\":[{\"name\":\"files\",\"error\":\"\xff\"}]}",
	} {
		f.Add([]byte(s))
	}
	// Dated ahead of the collector's clock: within the tolerance, and past it.
	for _, ahead := range []time.Duration{MaxClockAhead / 2, MaxClockAhead + time.Minute, 23 * time.Hour} {
		f.Add([]byte(`{"kind":"full","captured_at":"` + time.Now().Add(ahead).UTC().Format(time.RFC3339Nano) + `","probes":[{"name":"cpu","duration_ms":1,"data":{}}]}`))
	}
	// The size limit is checked before anything is decoded.
	if _, _, err := ParseDocument(make([]byte, MaxDocument+1), testAgentID); !errors.Is(err, ErrInvalid) {
		f.Fatalf("an oversized document: %v", err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, facts, err := ParseDocument(b, testAgentID)
		if err != nil {
			if s != nil || facts != nil {
				t.Fatalf("ParseDocument returned %v, %v with error %v", s, facts, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			// Probe data with invalid UTF-8 is refused as what it is, not
			// as "not JSON".
			var d Document
			if strings.Contains(err.Error(), "data is not JSON") && json.Unmarshal(b, &d) == nil {
				for _, p := range d.Probes {
					if strings.Contains(err.Error(), "probe "+p.Name+" data is not JSON") && !utf8.Valid(p.Data) {
						t.Fatalf("probe data with invalid UTF-8 refused as %q", err)
					}
				}
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid snapshot: %v", err)
		}
		if facts != nil {
			if err := facts.Validate(); err != nil {
				t.Fatalf("accepted invalid facts: %v", err)
			}
		}
		if s.AgentID != testAgentID || s.BootEpoch != ImportedEpoch || s.Seq == 0 || s.RequestID != "" {
			t.Fatalf("snapshot not filed as an import: %+v", s)
		}
		if time.UnixMilli(s.CapturedAt).After(time.Now().Add(MaxClockAhead)) {
			t.Fatalf("capture time %s is more than %s ahead", time.UnixMilli(s.CapturedAt).UTC(), MaxClockAhead)
		}
		again, _, err := ParseDocument(bytes.Clone(b), testAgentID)
		if err != nil || again.Seq != s.Seq {
			t.Fatalf("parsing the same document twice: seq %d then %v, %v", s.Seq, again, err)
		}
		checkRoundTrip(t, s)
	})
}

package protocol

import (
	"errors"
	"testing"
)

// TestParseDocumentDurations refuses probe durations no agent measures,
// before converting them (the conversion of a value out of range differs
// between CPUs).
func TestParseDocumentDurations(t *testing.T) {
	var snap *Snapshot
	for _, g := range goldenMessages() {
		if s, ok := g.msg.(*Snapshot); ok && len(s.Probes) > 0 {
			snap = s
			break
		}
	}
	for _, ms := range []float64{-1, 1e300, 24*60*60*1000 + 1} {
		d := snap.Document()
		d.Probes[0].DurationMS = ms
		if _, _, err := ParseDocument(mustJSON(d), testAgentID); !errors.Is(err, ErrInvalid) {
			t.Errorf("duration %v ms: %v", ms, err)
		}
	}
	d := snap.Document()
	d.Probes[0].DurationMS = 1234.5
	got, _, err := ParseDocument(mustJSON(d), testAgentID)
	if err != nil || got.Probes[0].Duration != 1_234_500_000 {
		t.Fatalf("1234.5 ms: %v, %v", got, err)
	}
}

// TestParseDocumentCompactsData: a document written for people (`sonde-agent
// snapshot -o FILE` indents it) gives the probe data an agent would send,
// without the indentation, which the collector would otherwise store.
func TestParseDocumentCompactsData(t *testing.T) {
	doc := []byte(`{
  "kind": "health",
  "captured_at": "2025-03-14T09:26:53Z",
  "probes": [
    {
      "name": "memory",
      "duration_ms": 0.09,
      "data": {
        "total": 8589934592,
        "label": "two  spaces",
        "swap": [ 1, 2 ]
      }
    }
  ]
}`)
	s, _, err := ParseDocument(doc, testAgentID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(s.Probes[0].Data), `{"total":8589934592,"label":"two  spaces","swap":[1,2]}`; got != want {
		t.Errorf("data %s, want %s", got, want)
	}
}

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

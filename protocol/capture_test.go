package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseDocumentCaptureTime: a document dated more than MaxClockAhead
// ahead of the collector's clock is refused, with both times in the
// message; up to the tolerance, and any time in the past, is accepted.
func TestParseDocumentCaptureTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	doc := func(at time.Time) []byte {
		return []byte(`{"kind":"full","captured_at":"` + at.Format(time.RFC3339Nano) + `"}`)
	}
	for _, ahead := range []time.Duration{MaxClockAhead + time.Second, time.Hour, 23 * time.Hour} {
		_, _, err := parseDocument(doc(now.Add(ahead)), testAgentID, now)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("a document dated %s ahead: %v", ahead, err)
		}
		for _, want := range []string{now.Add(ahead).Format(time.RFC3339), now.Format(time.RFC3339), "ahead of the collector's clock"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal of a document dated %s ahead does not say %q: %v", ahead, want, err)
			}
		}
	}
	for _, at := range []time.Time{now.Add(MaxClockAhead), now, now.Add(-400 * 24 * time.Hour)} {
		if _, _, err := parseDocument(doc(at), testAgentID, now); err != nil {
			t.Errorf("a document captured at %s, now %s: %v", at, now, err)
		}
	}
	if _, _, err := ParseDocument(doc(time.Now().Add(2*time.Hour)), testAgentID); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseDocument took a document dated two hours ahead: %v", err)
	}
}

// TestInvalidUTF8InProbeData: probe data that is not UTF-8 is refused as
// such, with the probe and the offset, not as "not JSON", whether it comes
// in a document or off the wire.
func TestInvalidUTF8InProbeData(t *testing.T) {
	b := []byte(`{"kind":"full","captured_at":"2026-11-24T12:00:00Z","probes":[{"name":"files","duration_ms":1,"data":{"path":"/tmp/caf` + "\xe9" + `"}}]}`)
	_, _, err := ParseDocument(b, testAgentID)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "probe files data has invalid UTF-8 at byte 17") {
		t.Fatalf("a document with Latin-1 in its probe data: %v", err)
	}
	m := &Snapshot{Kind: KindFull, AgentID: testAgentID, BootEpoch: 1, Seq: 1, CapturedAt: 1,
		Probes: []ProbeResult{{Name: "files", Data: []byte("{\"a\":\"\xff\"}")}}}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "invalid UTF-8 at byte 6") {
		t.Errorf("a wire snapshot with invalid UTF-8 in its probe data: %v", err)
	}
	m.Probes[0].Data = []byte(`{"a":`)
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a wire snapshot with broken JSON in its probe data: %v", err)
	}
	for _, c := range []struct {
		in   string
		want int
	}{{"", -1}, {"abc", -1}, {"caf\u00e9 \u2603 \U0001F600", -1}, {"\xff", 0}, {"ab\xc3", 2}, {"\xe2\x98", 0}, {"a\xed\xa0\x80", 1}} {
		if got := invalidUTF8At([]byte(c.in)); got != c.want {
			t.Errorf("invalidUTF8At(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestHelloAgentTime: the agent's time in a hello is optional, never
// negative.
func TestHelloAgentTime(t *testing.T) {
	h := &Hello{AgentID: testAgentID, Versions: []uint8{Version}, AgentTime: -1}
	if err := h.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a negative agent time: %v", err)
	}
	for _, at := range []int64{0, time.Now().UnixNano()} {
		h.AgentTime = at
		b, err := Append(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadAs[*Hello](strings.NewReader(string(b)))
		if err != nil || m.AgentTime != at {
			t.Errorf("agent time %d through a frame: %+v, %v", at, m, err)
		}
	}
}

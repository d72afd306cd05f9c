package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// MaxDocument bounds a snapshot document read from a file.
const MaxDocument = MaxDecodedSize

// ImportedEpoch is the boot epoch of snapshots brought in from files: they
// were not sent over a connection, so their sequence number is derived from
// their content, which makes importing the same file twice a duplicate.
const ImportedEpoch = -1

// maxDurationMS bounds a probe's duration in a document: a day.
const maxDurationMS = 24 * 60 * 60 * 1000

// clipName shortens an untrusted name for an error message.
func clipName(s string) string {
	if len(s) > MaxProbeNameLen {
		return s[:MaxProbeNameLen] + "…"
	}
	return s
}

// ParseDocument reads a snapshot document written by `sonde-agent snapshot
// -o FILE`, validates it as strictly as a snapshot off the wire, and
// returns it as one. agentID is the agent it will be filed under. A
// capture time more than MaxClockAhead ahead of now is refused: unlike an
// agent's, a file's clock cannot be measured, so it cannot be corrected.
func ParseDocument(b []byte, agentID string) (*Snapshot, *Facts, error) {
	return parseDocument(b, agentID, time.Now())
}

func parseDocument(b []byte, agentID string, now time.Time) (*Snapshot, *Facts, error) {
	if len(b) > MaxDocument {
		return nil, nil, invalid("document is %d bytes, limit %d", len(b), MaxDocument)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, nil, invalid("not a snapshot document: %v", err)
	}
	kind := KindFull
	switch d.Kind {
	case "full":
	case "health":
		kind = KindHealth
	default:
		return nil, nil, invalid("unknown snapshot kind %q", d.Kind)
	}
	if d.CapturedAt.IsZero() {
		return nil, nil, invalid("snapshot document has no capture time")
	}
	if err := CheckCaptureTime(d.CapturedAt, now); err != nil {
		return nil, nil, fmt.Errorf("snapshot document: %w", err)
	}
	sum := sha256.Sum256(b)
	seq := binary.BigEndian.Uint64(sum[:8]) | 1 // never 0
	s := &Snapshot{Kind: kind, AgentID: agentID, BootEpoch: ImportedEpoch, Seq: seq,
		CapturedAt: d.CapturedAt.UnixMilli(), Probes: make([]ProbeResult, len(d.Probes))}
	for i, p := range d.Probes {
		// Checked before the conversion, whose result for a value out of
		// range differs between CPUs.
		if !(p.DurationMS >= 0 && p.DurationMS <= maxDurationMS) {
			return nil, nil, invalid("probe %q duration %v ms", clipName(p.Name), p.DurationMS)
		}
		s.Probes[i] = ProbeResult{Name: p.Name, Data: compact(p.Data), Error: p.Error, Duration: int64(p.DurationMS * 1e6), Scrubbed: p.Scrubbed}
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("snapshot document: %w", err)
	}
	if d.Facts != nil {
		if err := d.Facts.Validate(); err != nil {
			return nil, nil, fmt.Errorf("snapshot document facts: %w", err)
		}
	}
	return s, d.Facts, nil
}

// compact returns a probe's data as an agent sends it, without the
// indentation of a document written for people: the collector stores
// probe data as it receives it.
func compact(data json.RawMessage) []byte {
	if len(data) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return []byte(data) // not JSON: Validate says so
	}
	return b.Bytes()
}

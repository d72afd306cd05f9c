package protocol

import (
	"encoding/json"
	"time"
)

// Document is the JSON form of a snapshot: what the collector's API serves,
// what `sonde-agent snapshot` writes, and what analyzers read.
type Document struct {
	AgentID    string      `json:"agent_id,omitempty"`
	BootEpoch  int64       `json:"boot_epoch,omitempty"`
	Seq        uint64      `json:"seq,omitempty"`
	Kind       string      `json:"kind"`
	RequestID  string      `json:"request_id,omitempty"`
	Trigger    string      `json:"trigger,omitempty"`
	CapturedAt time.Time   `json:"captured_at"`
	Facts      *Facts      `json:"facts,omitempty"`
	Probes     []ProbeJSON `json:"probes,omitempty"`
}

// ProbeJSON is one probe's outcome in a Document.
type ProbeJSON struct {
	Name       string          `json:"name"`
	DurationMS float64         `json:"duration_ms"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	// Scrubbed counts what the agent scrubbed from Data at the source.
	Scrubbed []Scrub `json:"scrubbed,omitempty"`
}

// Document converts a snapshot to its JSON form.
func (m *Snapshot) Document() Document {
	d := Document{
		AgentID:    m.AgentID,
		BootEpoch:  m.BootEpoch,
		Seq:        m.Seq,
		Kind:       m.Kind.String(),
		RequestID:  m.RequestID,
		Trigger:    m.Trigger,
		CapturedAt: time.UnixMilli(m.CapturedAt).UTC(),
		Probes:     make([]ProbeJSON, len(m.Probes)),
	}
	for i, p := range m.Probes {
		d.Probes[i] = ProbeJSON{
			Name:       p.Name,
			DurationMS: float64(p.Duration) / 1e6,
			Error:      p.Error,
			Data:       json.RawMessage(p.Data),
			Scrubbed:   p.Scrubbed,
		}
	}
	return d
}

package loadgen

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"

	"github.com/sondehq/sonde/protocol"
)

// The recorded snapshots: `sonde-agent snapshot --format json` (full, the
// probes an on-demand request without names runs) and `--health` with the
// agent's health probes (probe.HealthProbes), taken once on the build
// machine (a Debian container: no DMI, systemd or Wi-Fi, so a desktop's
// would be somewhat larger; see BENCHMARKS.md).
var (
	//go:embed testdata/full.json
	fullJSON []byte
	//go:embed testdata/health.json
	healthJSON []byte
)

// Recorded holds the fleet's snapshot templates: each send copies one and
// sets the agent, epoch, sequence number and time.
type Recorded struct {
	Full, Health *protocol.Snapshot
	Facts        protocol.Facts // the recording machine's; each agent gets its own hostname and host ID
}

// LoadRecorded parses the embedded recordings as the collector would parse
// a document (protocol.ParseDocument).
func LoadRecorded() (*Recorded, error) {
	full, facts, err := protocol.ParseDocument(fullJSON, "recorded")
	if err != nil {
		return nil, fmt.Errorf("reading the recorded full snapshot: %w", err)
	}
	health, _, err := protocol.ParseDocument(healthJSON, "recorded")
	if err != nil {
		return nil, fmt.Errorf("reading the recorded health snapshot: %w", err)
	}
	r := &Recorded{Full: full, Health: health}
	if facts != nil {
		r.Facts = *facts
	}
	return r, nil
}

// ProbeNames lists the full snapshot's probes: what the simulated agents
// say they have in their hello, and all a request may name.
func (r *Recorded) ProbeNames() []string {
	names := make([]string, 0, len(r.Full.Probes))
	for _, p := range r.Full.Probes {
		names = append(names, p.Name)
	}
	return names
}

// snapshot returns a copy of the template of kind for one send, limited to
// the named probes when there are any.
func (r *Recorded) snapshot(kind protocol.Kind, probes []string) *protocol.Snapshot {
	tmpl := r.Health
	if kind == protocol.KindFull {
		tmpl = r.Full
	}
	s := *tmpl
	s.Kind = kind
	if len(probes) > 0 {
		s.Probes = nil
		for _, p := range tmpl.Probes {
			if slices.Contains(probes, p.Name) {
				s.Probes = append(s.Probes, p)
			}
		}
	}
	return &s
}

// WireSize is the encoded size (a protocol frame, as sent) of a snapshot
// of kind for agentID: what the raw ceiling sends.
func (r *Recorded) WireSize(kind protocol.Kind) (int, error) {
	b, err := r.Frame(kind)
	return len(b), err
}

// Frame encodes a snapshot of kind as one agent would send it.
func (r *Recorded) Frame(kind protocol.Kind) ([]byte, error) {
	s := r.snapshot(kind, nil)
	s.AgentID, s.BootEpoch, s.Seq = "0123456789abcdef0123", 1700000000000, 1
	var buf bytes.Buffer
	if err := protocol.Write(&buf, s); err != nil {
		return nil, fmt.Errorf("encoding a %s snapshot: %w", kind, err)
	}
	return buf.Bytes(), nil
}

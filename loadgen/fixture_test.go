package loadgen

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

func TestRecorded(t *testing.T) {
	r, err := LoadRecorded()
	if err != nil {
		t.Fatal(err)
	}
	names := r.ProbeNames()
	for _, want := range []string{"cpu", "memory", "processes", "network"} {
		if !slices.Contains(names, want) {
			t.Errorf("the full snapshot has no %s probe: %v", want, names)
		}
	}
	if r.Health.Kind != protocol.KindHealth || len(r.Health.Probes) == 0 || r.Facts.Hostname == "" {
		t.Errorf("health snapshot %v with %d probes, facts %+v", r.Health.Kind, len(r.Health.Probes), r.Facts)
	}
	one := r.snapshot(protocol.KindFull, []string{"cpu"})
	if len(one.Probes) != 1 || one.Probes[0].Name != "cpu" || len(r.Full.Probes) != len(names) {
		t.Errorf("a snapshot of cpu alone has %d probes (the template now %d)", len(one.Probes), len(r.Full.Probes))
	}
	for _, kind := range []protocol.Kind{protocol.KindFull, protocol.KindHealth} {
		b, err := r.Frame(kind)
		if err != nil {
			t.Fatal(err)
		}
		m, err := protocol.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s frame does not decode: %v", kind, err)
		}
		s, ok := m.(*protocol.Snapshot)
		if !ok || s.Kind != kind || s.Seq != 1 {
			t.Errorf("%s frame decodes to %T %+v", kind, m, s)
		}
	}
	full, _ := r.WireSize(protocol.KindFull)
	health, _ := r.WireSize(protocol.KindHealth)
	if health <= 0 || full <= health {
		t.Errorf("wire sizes: full %d, health %d", full, health)
	}
}

package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestSnapshotTrigger: the optional trigger round-trips, reaches the JSON
// document, and must be a short kebab-case word.
func TestSnapshotTrigger(t *testing.T) {
	snap := &Snapshot{Kind: KindFull, AgentID: "agent-1", BootEpoch: 1, Seq: 1, CapturedAt: 1, Trigger: "no-default-route"}
	b, err := Append(nil, snap)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*Snapshot).Trigger; got != snap.Trigger {
		t.Fatalf("trigger after a round trip: %q", got)
	}
	doc, _ := json.Marshal(snap.Document())
	if !strings.Contains(string(doc), `"trigger":"no-default-route"`) {
		t.Fatalf("document: %s", doc)
	}
	snap.Trigger = ""
	doc, _ = json.Marshal(snap.Document())
	if strings.Contains(string(doc), "trigger") {
		t.Fatalf("empty trigger in the document: %s", doc)
	}
	for _, bad := range []string{"No-Route", "-x", "x-", "a--b", "has space", strings.Repeat("a", 200)} {
		snap.Trigger = bad
		if err := snap.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("trigger %q: %v", bad, err)
		}
	}
	snap.Trigger = "collector-unreachable"
	if err := snap.Validate(); err != nil {
		t.Errorf("valid trigger refused: %v", err)
	}
}

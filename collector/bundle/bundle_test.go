package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
	"github.com/sondehq/sonde/redact"
)

// fixture is the findings package's machine with a full disk and a
// failed service.
func fixture(t *testing.T) *protocol.Document {
	t.Helper()
	b, err := os.ReadFile("../../findings/testdata/full-disk-failed-service/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func build(t *testing.T, in *bundle.Input) ([]byte, *bundle.Manifest, ed25519.PublicKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := findings.LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	in.KB = kb
	var buf bytes.Buffer
	m, _, err := bundle.Build(&buf, in, key)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m, pub
}

func TestBuildAndVerify(t *testing.T) {
	snap := fixture(t)
	prev := fixture(t)
	b, m, pub := build(t, &bundle.Input{Ticket: "INC-4711", AgentID: snap.AgentID, SnapshotID: 7, Snapshot: snap, Fresh: true,
		Previous: prev, PreviousID: 6, Version: "test", Created: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)})

	got, err := bundle.Verify(b, pub)
	if err != nil {
		t.Fatalf("a fresh bundle does not verify: %v", err)
	}
	if got.Ticket != "INC-4711" || got.SnapshotID != 7 || got.Format != bundle.Format {
		t.Fatalf("manifest: %+v", got)
	}
	want := []string{"disk.almost-full", "service.failed"}
	for _, id := range want {
		if !strings.Contains(strings.Join(m.Findings, ","), id) {
			t.Errorf("manifest findings %v lack %s", m.Findings, id)
		}
	}
	for _, name := range []string{"report.html", "report.txt"} {
		report, err := bundle.Open(b, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range want {
			if !bytes.Contains(report, []byte(id)) {
				t.Errorf("%s does not list finding %s", name, id)
			}
		}
	}
	names := map[string]bool{}
	for _, f := range m.Files {
		names[f.Name] = true
	}
	for _, n := range []string{"snapshot.json", "history.json", "diff-previous.json", "findings.json", "report.html", "report.txt"} {
		if !names[n] {
			t.Errorf("bundle lacks %s", n)
		}
	}
	if names["diff-healthy.json"] {
		t.Error("diff-healthy.json without a healthy snapshot")
	}
}

// TestTamper flips one byte at many places in the file, zip metadata
// included: every one must fail verification.
func TestTamper(t *testing.T) {
	snap := fixture(t)
	b, _, pub := build(t, &bundle.Input{Ticket: "T-1", AgentID: "a", Snapshot: snap, Created: time.Now()})
	step := len(b)/97 + 1
	for i := 0; i < len(b); i += step {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		if _, err := bundle.Verify(bad, pub); err == nil {
			t.Fatalf("flipping byte %d of %d went unnoticed", i, len(b))
		}
	}
	// Another collector's key is refused too.
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := bundle.Verify(b, other); !errors.Is(err, bundle.ErrTampered) {
		t.Fatalf("verified with the wrong key: %v", err)
	}
	if _, err := bundle.Verify(b[:len(b)/2], pub); err == nil {
		t.Fatal("half a bundle verified")
	}
}

// TestRedacted checks a secret in the snapshot does not reach any file.
func TestRedacted(t *testing.T) {
	snap := fixture(t)
	const canary = "ghp_CANARYabcdefghijklmnopqrstuvwxyz0123"
	for i, p := range snap.Probes {
		if p.Name == "processes" {
			snap.Probes[i].Error = "token " + canary
		}
	}
	b, m, pub := build(t, &bundle.Input{Ticket: "T-2", AgentID: "a", Snapshot: snap, Created: time.Now(),
		Redact: redact.Options{Pseudonymize: true, Salt: []byte("salt")}})
	if _, err := bundle.Verify(b, pub); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(m.Files, bundle.File{Name: "manifest.json"}) {
		data, err := bundle.Open(b, f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("CANARY")) {
			t.Errorf("%s carries the secret", f.Name)
		}
	}
}

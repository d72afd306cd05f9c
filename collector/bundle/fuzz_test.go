package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

// fuzzKey signs the fuzz corpus's bundles. It is fixed so that a corpus
// written by one run still verifies in the next.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x5e}, ed25519.SeedSize))

// fuzzBundle builds a real bundle of the findings package's full-disk
// case, as the collector does.
func fuzzBundle(tb testing.TB, handover bool) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../findings/testdata/full-disk-failed-service/snapshot.json")
	if err != nil {
		tb.Fatal(err)
	}
	var snap, prev protocol.Document
	if err := json.Unmarshal(b, &snap); err != nil {
		tb.Fatal(err)
	}
	prev = snap
	kb, err := findings.LoadKB("")
	if err != nil {
		tb.Fatal(err)
	}
	in := &Input{Ticket: "INC-4711", AgentID: snap.AgentID, SnapshotID: 7, Snapshot: &snap, Fresh: true,
		Previous: &prev, PreviousID: 6, KB: kb, Version: "test", Created: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	if handover {
		in.Handover = &Handover{}
	}
	var buf bytes.Buffer
	if _, _, err := Build(&buf, in, fuzzKey); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// resign replaces the file signature at the end of b, when there is room
// for one, by a valid one over the rest, so that the fuzzer gets past the
// signature to the zip and the manifest.
func resign(b []byte) []byte {
	if len(b) < sigLen {
		return b
	}
	b = bytes.Clone(b)
	body := b[:len(b)-sigLen]
	copy(b[len(body):], sigPrefix+base64.StdEncoding.EncodeToString(ed25519.Sign(fuzzKey, body)))
	return b
}

// FuzzVerify feeds arbitrary files to bundle verification, as they are and
// re-signed with the key so that the zip and manifest checks are reached.
// Nothing may panic; a refusal returns no manifest; an accepted bundle is
// of this format and every file it lists opens with the size and SHA-256
// the manifest gives, while nothing else is in it.
func FuzzVerify(f *testing.F) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	for _, handover := range []bool{false, true} {
		b := fuzzBundle(f, handover)
		if _, err := Verify(b, pub); err != nil {
			f.Fatalf("a fresh bundle does not verify: %v", err)
		}
		f.Add(b, false)
		f.Add(b, true)
		f.Add(b[:len(b)-1], false)
		f.Add(b[:len(b)/2], true)
		flipped := bytes.Clone(b)
		flipped[len(b)/3] ^= 1
		f.Add(flipped, false)
		f.Add(flipped, true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte(sigPrefix), true)
	f.Fuzz(func(t *testing.T, b []byte, sign bool) {
		if sign {
			b = resign(b)
		}
		m, err := Verify(b, pub)
		if err != nil {
			if m != nil {
				t.Fatalf("returned a manifest with error %v", err)
			}
			return
		}
		if m.Format != Format {
			t.Fatalf("accepted format %q", m.Format)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("a verified bundle is not a zip: %v", err)
		}
		listed := map[string]bool{"manifest.json": true, "manifest.sig": true}
		for _, want := range m.Files {
			listed[want.Name] = true
			data, err := Open(b, want.Name)
			if err != nil {
				t.Fatalf("Open(%q) of a verified bundle: %v", want.Name, err)
			}
			sum := sha256.Sum256(data)
			if int64(len(data)) != want.Size || hex.EncodeToString(sum[:]) != want.SHA256 {
				t.Fatalf("Open(%q) returns other bytes than the manifest lists", want.Name)
			}
		}
		for _, zf := range zr.File {
			if !listed[zf.Name] {
				t.Fatalf("%q is in a verified bundle but not in its manifest", zf.Name)
			}
		}
	})
}

// FuzzOpen feeds arbitrary files to Open: it must not panic, and a file it
// returns is within the size limit.
func FuzzOpen(f *testing.F) {
	for _, handover := range []bool{false, true} {
		b := fuzzBundle(f, handover)
		for _, name := range []string{"manifest.json", "report.txt", "ticket.json", "missing"} {
			f.Add(b, name)
		}
		f.Add(b[:len(b)/2], "manifest.json")
	}
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		data, err := Open(b, name)
		if err != nil {
			if data != nil {
				t.Fatalf("returned %d bytes with error %v", len(data), err)
			}
			return
		}
		if int64(len(data)) > MaxSize {
			t.Fatalf("returned %d bytes, limit %d", len(data), MaxSize)
		}
		if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); errors.Is(err, zip.ErrFormat) {
			t.Fatalf("opened %q in something that is not a zip", name)
		}
	})
}

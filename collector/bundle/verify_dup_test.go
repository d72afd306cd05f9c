package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// TestVerifyRefusesRepeatedNames: a zip may hold two entries of one name,
// and readers disagree on which they open; a bundle never does.
func TestVerifyRefusesRepeatedNames(t *testing.T) {
	orig := fuzzBundle(t, false)
	zr, err := zip.NewReader(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var victim string
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(f.Name, "manifest.") {
			victim = f.Name
		}
	}
	w, err := zw.Create(victim)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("not what the collector wrote"))
	// The file signature is the zip's comment, the last bytes of the file.
	if err := zw.SetComment(zr.Comment); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	forged := resign(buf.Bytes())
	_, err = Verify(forged, fuzzKey.Public().(ed25519.PublicKey))
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("Verify of a bundle with %s twice: %v", victim, err)
	}
}

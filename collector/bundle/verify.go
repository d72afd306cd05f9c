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
	"fmt"
	"io"
	"strings"
)

// Limits on a bundle being verified, which may come from anywhere.
const (
	MaxSize     = 256 << 20
	maxManifest = 1 << 20
	maxFiles    = 64
)

// ErrTampered is wrapped by every verification failure that means the
// bundle is not what the collector signed.
var ErrTampered = errors.New("bundle does not verify")

// Verify checks a bundle against the collector's public key: the signature
// over the whole file, the manifest's signature, every file's size and
// SHA-256, and that no file was added. It returns the manifest.
func Verify(b []byte, pub ed25519.PublicKey) (*Manifest, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("bundle is %d bytes, limit %d", len(b), MaxSize)
	}
	if len(b) < sigLen || !strings.HasPrefix(string(b[len(b)-sigLen:]), sigPrefix) {
		return nil, fmt.Errorf("%w: no Sonde signature at the end of the file (not a bundle, or cut short)", ErrTampered)
	}
	sig, err := base64.StdEncoding.DecodeString(string(b[len(b)-sigLen+len(sigPrefix):]))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: the file signature is damaged", ErrTampered)
	}
	if !ed25519.Verify(pub, b[:len(b)-sigLen], sig) {
		return nil, fmt.Errorf("%w: the file signature does not match (changed after signing, or signed by key other than %s)", ErrTampered, KeyID(pub))
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTampered, err)
	}
	if len(zr.File) > maxFiles {
		return nil, fmt.Errorf("%w: %d files", ErrTampered, len(zr.File))
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if files[f.Name] != nil {
			// Readers disagree on which of two same-named entries they
			// open: a bundle has one of each.
			return nil, fmt.Errorf("%w: %q appears twice", ErrTampered, f.Name)
		}
		files[f.Name] = f
	}
	manifest, err := readFile(files["manifest.json"], maxManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", ErrTampered, err)
	}
	msig, err := readFile(files["manifest.sig"], 1024)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest.sig: %v", ErrTampered, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(msig)))
	if err != nil || !ed25519.Verify(pub, manifest, raw) {
		return nil, fmt.Errorf("%w: manifest.sig does not match manifest.json", ErrTampered)
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", ErrTampered, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("bundle format %q, this tool reads %q", m.Format, Format)
	}
	listed := map[string]bool{"manifest.json": true, "manifest.sig": true}
	for _, want := range m.Files {
		listed[want.Name] = true
		data, err := readFile(files[want.Name], MaxSize)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTampered, want.Name, err)
		}
		// Each check names itself, so that a refusal says which layer failed.
		if int64(len(data)) != want.Size {
			return nil, fmt.Errorf("%w: %s: size is %d bytes, the manifest says %d", ErrTampered, want.Name, len(data), want.Size)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want.SHA256 {
			return nil, fmt.Errorf("%w: %s: SHA-256 differs from the manifest", ErrTampered, want.Name)
		}
	}
	for name := range files {
		if !listed[name] {
			return nil, fmt.Errorf("%w: %s is not in the manifest", ErrTampered, name)
		}
	}
	return &m, nil
}

func readFile(f *zip.File, max int64) ([]byte, error) {
	if f == nil {
		return nil, errors.New("missing")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// Open returns the named file of a verified bundle.
func Open(b []byte, name string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a bundle: %w", err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			return readFile(f, MaxSize)
		}
	}
	return nil, fmt.Errorf("%s: not in the bundle", name)
}

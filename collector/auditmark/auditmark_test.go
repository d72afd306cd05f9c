package auditmark_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/auditmark"
)

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestSignVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	c := auditmark.Make(key, 42, hashOf("x"), at)
	if err := c.Verify(pub); err != nil {
		t.Fatalf("own key: %v", err)
	}
	if err := c.Verify(nil); err != nil {
		t.Fatalf("the key it carries: %v", err)
	}
	if err := c.Verify(otherPub); !errors.Is(err, auditmark.ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	d, err := auditmark.Decode(c.Encode())
	if err != nil || d != c {
		t.Fatalf("decoded %+v, %v; want %+v", d, err, c)
	}
	forged := auditmark.Make(otherKey, 42, hashOf("x"), at)
	for name, bad := range map[string]func(c *auditmark.Checkpoint){
		"entry":      func(c *auditmark.Checkpoint) { c.EntryID = 41 },
		"hash":       func(c *auditmark.Checkpoint) { c.Hash = forged.Hash[:62] + "00" },
		"time":       func(c *auditmark.Checkpoint) { c.At = c.At.Add(time.Nanosecond) },
		"signature":  func(c *auditmark.Checkpoint) { c.Sig = forged.Sig },
		"key":        func(c *auditmark.Checkpoint) { c.PublicKey, c.KeyID = forged.PublicKey, forged.KeyID },
		"key ID":     func(c *auditmark.Checkpoint) { c.KeyID = forged.KeyID },
		"public key": func(c *auditmark.Checkpoint) { c.PublicKey = "AAAA" },
	} {
		b := c
		bad(&b)
		if err := b.Verify(pub); !errors.Is(err, auditmark.ErrSignature) {
			t.Errorf("%s changed, with the collector's key: %v", name, err)
		}
		if name != "key" {
			if err := b.Verify(nil); !errors.Is(err, auditmark.ErrSignature) {
				t.Errorf("%s changed, with the key it carries: %v", name, err)
			}
		}
	}
	// A checkpoint made by another key verifies only with that key.
	if err := forged.Verify(nil); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	c := auditmark.Make(key, 1, hashOf("x"), time.Now())
	good := string(c.Encode())
	for name, line := range map[string]string{
		"empty":         "",
		"not JSON":      "checkpoint",
		"unknown field": strings.Replace(good, `{"v":1`, `{"v":1,"x":2`, 1),
		"version":       strings.Replace(good, `{"v":1`, `{"v":2`, 1),
		"entry 0":       strings.Replace(good, `"entry_id":1`, `"entry_id":0`, 1),
		"two objects":   good + good,
		"too long":      good + strings.Repeat(" ", auditmark.MaxLine),
		"unsigned":      strings.Replace(good, `"sig":"`+c.Sig, `"sig":"`, 1),
		"short hash":    strings.Replace(good, c.Hash, c.Hash[2:], 1),
	} {
		if _, err := auditmark.Decode([]byte(line)); err == nil {
			t.Errorf("%s: decoded %q", name, line)
		}
	}
}

func TestParseAnchor(t *testing.T) {
	h := hashOf("x")
	hexHash := auditmark.Make(ed25519.NewKeyFromSeed(make([]byte, 32)), 1, h, time.Now()).Hash
	if id, hash, err := auditmark.ParseAnchor("17:" + hexHash); err != nil || id != 17 || !bytes.Equal(hash, h) {
		t.Fatalf("ID:HASH: %d %x %v", id, hash, err)
	}
	if id, hash, err := auditmark.ParseAnchor("17"); err != nil || id != 17 || hash != nil {
		t.Fatalf("ID: %d %x %v", id, hash, err)
	}
	for _, s := range []string{"", "0", "-3", "x", "17:", "17:abc", "17:" + hexHash + "00"} {
		if _, _, err := auditmark.ParseAnchor(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestFile(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), auditmark.FileName)
	f := auditmark.File{Path: path, Key: pub}
	if _, err := f.Latest(); !errors.Is(err, auditmark.ErrNone) {
		t.Fatalf("no file: %v", err)
	}
	var last auditmark.Checkpoint
	for i := range int64(50) {
		last = auditmark.Make(key, i+1, hashOf(string(rune(i))), time.Now())
		if err := auditmark.Append(path, last); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := f.Latest(); err != nil || c != last {
		t.Fatalf("latest: %+v, %v", c, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// A crash in the middle of a write leaves a line without its newline:
	// the last whole line is the latest, and the next write starts afresh.
	torn := auditmark.Make(key, 99, hashOf("torn"), time.Now()).Encode()
	appendRaw(t, path, torn[:len(torn)/2])
	if c, err := f.Latest(); err != nil || c != last {
		t.Fatalf("after a torn write: %+v, %v", c, err)
	}
	next := auditmark.Make(key, 100, hashOf("next"), time.Now())
	if err := auditmark.Append(path, next); err != nil {
		t.Fatal(err)
	}
	if c, err := f.Latest(); err != nil || c != next {
		t.Fatalf("after the write that followed: %+v, %v", c, err)
	}

	// A checkpoint another key signed is shown, but refused.
	_, otherKey, _ := ed25519.GenerateKey(nil)
	forged := auditmark.Make(otherKey, 101, hashOf("forged"), time.Now())
	if err := auditmark.Append(path, forged); err != nil {
		t.Fatal(err)
	}
	if c, err := f.Latest(); !errors.Is(err, auditmark.ErrSignature) || c != forged {
		t.Fatalf("forged: %+v, %v", c, err)
	}

	// A last line past the limit is refused, not read on.
	appendRaw(t, path, []byte(strings.Repeat("x", 3*auditmark.MaxLine)+"\n"))
	if _, err := f.Latest(); err == nil || errors.Is(err, auditmark.ErrNone) {
		t.Fatalf("a long last line: %v", err)
	}
}

func appendRaw(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

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
	"testing"
)

// A bundle is checked in layers: the signature over the whole file (the
// zip comment), manifest.sig over manifest.json, and every listed file's
// size and SHA-256, with nothing missing, added or doubled. The tests here
// break one layer at a time and keep every other consistent — the zip is
// rewritten so its CRCs hold, and the file signature is made anew unless
// it is the layer under test — so each layer has to catch its own case.

// entry is one file of a bundle's zip, in order.
type entry struct {
	name string
	data []byte
}

// unzip returns the files of b in zip order.
func unzip(t *testing.T, b []byte) []entry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var es []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{f.Name, data})
	}
	return es
}

// rezip writes es as a bundle whose file signature is made with key.
func rezip(t *testing.T, es []entry, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.SetComment(string(make([]byte, sigLen))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	copy(b[len(b)-sigLen:], sigPrefix+base64.StdEncoding.EncodeToString(ed25519.Sign(key, b[:len(b)-sigLen])))
	return b
}

// find returns the index of the named file in es, or -1.
func find(es []entry, name string) int {
	for i, e := range es {
		if e.name == name {
			return i
		}
	}
	return -1
}

// manifestOf decodes the manifest of es.
func manifestOf(t *testing.T, es []entry) *Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(es[find(es, "manifest.json")].data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// setManifest puts m in es as manifest.json, signed with key in
// manifest.sig, or with manifest.sig left as it was when key is nil.
func setManifest(t *testing.T, es []entry, m *Manifest, key ed25519.PrivateKey) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	es[find(es, "manifest.json")].data = b
	if key != nil {
		es[find(es, "manifest.sig")].data = []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(key, b)) + "\n")
	}
}

// listed returns f as the manifest lists a file of this content.
func listed(name string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// otherKey is a key that is not the collector's.
var otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x0d}, ed25519.SeedSize))

func TestVerifyLayers(t *testing.T) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	orig := fuzzBundle(t, true)
	const victim = "report.txt"
	for _, c := range []struct {
		name string
		// forge breaks one layer of es and returns the bundle.
		forge func(t *testing.T, es []entry) []byte
		// want is what the refusal says, naming the layer.
		want string
	}{{
		// Control: the rewritten bundle verifies, so each case below fails
		// by its own change only.
		name:  "rewritten unchanged",
		forge: func(t *testing.T, es []entry) []byte { return rezip(t, es, fuzzKey) },
	}, {
		// Every inner layer is consistent with the new content: only the
		// file signature can tell.
		name: "file signature: content, manifest and manifest.sig all redone",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, victim)
			es[i].data = []byte("nothing to see here\n")
			m := manifestOf(t, es)
			for j := range m.Files {
				if m.Files[j].Name == victim {
					m.Files[j] = listed(victim, es[i].data)
				}
			}
			setManifest(t, es, m, fuzzKey)
			b := rezip(t, es, fuzzKey)
			sig := b[len(b)-sigLen+len(sigPrefix):]
			copy(sig, base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, b[:len(b)-sigLen])))
			return b
		},
		want: "file signature does not match",
	}, {
		name: "file signature: damaged",
		forge: func(t *testing.T, es []entry) []byte {
			b := rezip(t, es, fuzzKey)
			b[len(b)-1] = '!'
			return b
		},
		want: "file signature is damaged",
	}, {
		name: "file signature: absent",
		forge: func(t *testing.T, es []entry) []byte {
			b := rezip(t, es, fuzzKey)
			copy(b[len(b)-sigLen:], strings.Repeat(" ", len(sigPrefix)))
			return b
		},
		want: "no Sonde signature",
	}, {
		// The manifest now claims another ticket; every file still matches
		// it, and the file is signed anew.
		name: "manifest.sig: manifest.json changed",
		forge: func(t *testing.T, es []entry) []byte {
			m := manifestOf(t, es)
			m.Ticket = "INC-9999"
			setManifest(t, es, m, nil)
			return rezip(t, es, fuzzKey)
		},
		want: "manifest.sig does not match",
	}, {
		// A file added and listed in the manifest, manifest.sig left stale.
		name: "manifest.sig: a file added to the manifest",
		forge: func(t *testing.T, es []entry) []byte {
			extra := []byte("run me\n")
			m := manifestOf(t, es)
			m.Files = append(m.Files, listed("fix.sh", extra))
			setManifest(t, es, m, nil)
			return rezip(t, append(es, entry{"fix.sh", extra}), fuzzKey)
		},
		want: "manifest.sig does not match",
	}, {
		name: "manifest.sig: signed by another key",
		forge: func(t *testing.T, es []entry) []byte {
			setManifest(t, es, manifestOf(t, es), otherKey)
			return rezip(t, es, fuzzKey)
		},
		want: "manifest.sig does not match",
	}, {
		name: "manifest.sig: not base64",
		forge: func(t *testing.T, es []entry) []byte {
			es[find(es, "manifest.sig")].data = []byte("%%%\n")
			return rezip(t, es, fuzzKey)
		},
		want: "manifest.sig does not match",
	}, {
		// Same size, other bytes; the manifest and its signature unchanged.
		name: "SHA-256: a file's content changed, same size",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, victim)
			es[i].data = bytes.Clone(es[i].data)
			es[i].data[0] ^= 0x20
			return rezip(t, es, fuzzKey)
		},
		want: victim + ": SHA-256 differs",
	}, {
		// The manifest, signed, lists a hash that is not the file's.
		name: "SHA-256: the manifest lists another hash",
		forge: func(t *testing.T, es []entry) []byte {
			m := manifestOf(t, es)
			for j := range m.Files {
				if m.Files[j].Name == victim {
					m.Files[j].SHA256 = strings.Repeat("0", 64)
				}
			}
			setManifest(t, es, m, fuzzKey)
			return rezip(t, es, fuzzKey)
		},
		want: victim + ": SHA-256 differs",
	}, {
		// The hash matches the new content; only the size says otherwise.
		name: "size: content grown, hash redone, size not",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, victim)
			es[i].data = append(bytes.Clone(es[i].data), "appended\n"...)
			m := manifestOf(t, es)
			for j := range m.Files {
				if m.Files[j].Name == victim {
					size := m.Files[j].Size
					m.Files[j] = listed(victim, es[i].data)
					m.Files[j].Size = size
				}
			}
			setManifest(t, es, m, fuzzKey)
			return rezip(t, es, fuzzKey)
		},
		want: victim + ": size is",
	}, {
		name: "size: the manifest lists another size",
		forge: func(t *testing.T, es []entry) []byte {
			m := manifestOf(t, es)
			for j := range m.Files {
				if m.Files[j].Name == victim {
					m.Files[j].Size--
				}
			}
			setManifest(t, es, m, fuzzKey)
			return rezip(t, es, fuzzKey)
		},
		want: victim + ": size is",
	}, {
		name: "missing: a listed file left out",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, victim)
			return rezip(t, append(es[:i:i], es[i+1:]...), fuzzKey)
		},
		want: victim + ": missing",
	}, {
		name: "missing: manifest.json",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, "manifest.json")
			return rezip(t, append(es[:i:i], es[i+1:]...), fuzzKey)
		},
		want: "manifest.json: missing",
	}, {
		name: "missing: manifest.sig",
		forge: func(t *testing.T, es []entry) []byte {
			i := find(es, "manifest.sig")
			return rezip(t, append(es[:i:i], es[i+1:]...), fuzzKey)
		},
		want: "manifest.sig: missing",
	}, {
		name: "extra: a file not in the manifest",
		forge: func(t *testing.T, es []entry) []byte {
			return rezip(t, append(es, entry{"fix.sh", []byte("run me\n")}), fuzzKey)
		},
		want: "fix.sh is not in the manifest",
	}, {
		name: "duplicate: manifest.json twice",
		forge: func(t *testing.T, es []entry) []byte {
			return rezip(t, append(es, es[find(es, "manifest.json")]), fuzzKey)
		},
		want: `"manifest.json" appears twice`,
	}, {
		// Even the same bytes twice: a bundle holds one of each.
		name: "duplicate: a file twice, same content",
		forge: func(t *testing.T, es []entry) []byte {
			return rezip(t, append(es, es[find(es, victim)]), fuzzKey)
		},
		want: `"` + victim + `" appears twice`,
	}, {
		// A whole, consistent bundle of another collector.
		name: "wrong key: every layer signed by another collector",
		forge: func(t *testing.T, es []entry) []byte {
			setManifest(t, es, manifestOf(t, es), otherKey)
			return rezip(t, es, otherKey)
		},
		want: "file signature does not match (changed after signing, or signed by key other than " + KeyID(pub) + ")",
	}} {
		t.Run(c.name, func(t *testing.T) {
			b := c.forge(t, unzip(t, orig))
			m, err := Verify(b, pub)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || m != nil {
				t.Fatalf("Verify accepted the bundle: %+v", m)
			}
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify: %v\nwant ErrTampered saying %q", err, c.want)
			}
		})
	}
}

// TestVerifyFormat: a signed bundle of another format is refused as such,
// not as tampered with.
func TestVerifyFormat(t *testing.T) {
	es := unzip(t, fuzzBundle(t, false))
	m := manifestOf(t, es)
	m.Format = "sonde-bundle/2"
	setManifest(t, es, m, fuzzKey)
	_, err := Verify(rezip(t, es, fuzzKey), fuzzKey.Public().(ed25519.PublicKey))
	if err == nil || errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), `"sonde-bundle/2"`) {
		t.Fatalf("Verify of another format: %v", err)
	}
}

// TestVerifyLimits: the limits on what Verify reads are inclusive and
// enforced, whatever the signature says.
func TestVerifyLimits(t *testing.T) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	orig := fuzzBundle(t, false)

	// The whole file: MaxSize bytes are looked at, one more is refused
	// unread. (Zero pages: the allocation costs no memory until touched.)
	big := make([]byte, MaxSize+1)
	if _, err := Verify(big, pub); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("limit %d", MaxSize)) {
		t.Errorf("a file of MaxSize+1 bytes: %v", err)
	}
	if _, err := Verify(big[:MaxSize], pub); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "no Sonde signature") {
		t.Errorf("a file of MaxSize bytes: %v, want it looked at for a signature", err)
	}
	// A signature over nothing is a signature, but not a bundle.
	bare := []byte(sigPrefix + base64.StdEncoding.EncodeToString(ed25519.Sign(fuzzKey, nil)))
	if _, err := Verify(bare, pub); !errors.Is(err, ErrTampered) || strings.Contains(err.Error(), "no Sonde signature") {
		t.Errorf("a bare signature: %v, want it read as signed and refused as no zip", err)
	}

	// A file within the bundle: manifest.sig may be up to 1024 bytes.
	for _, c := range []struct {
		size int
		ok   bool
	}{{1024, true}, {1025, false}} {
		es := unzip(t, orig)
		i := find(es, "manifest.sig")
		es[i].data = append(bytes.TrimSpace(es[i].data), bytes.Repeat([]byte{'\n'}, c.size)...)[:c.size]
		_, err := Verify(rezip(t, es, fuzzKey), pub)
		if c.ok && err != nil {
			t.Errorf("manifest.sig of %d bytes: %v", c.size, err)
		}
		if !c.ok && (!errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "manifest.sig: larger than 1024 bytes")) {
			t.Errorf("manifest.sig of %d bytes: %v", c.size, err)
		}
	}

	// The number of files: maxFiles, and no more.
	for _, n := range []int{maxFiles, maxFiles + 1} {
		es := unzip(t, orig)
		m := manifestOf(t, es)
		for len(es) < n {
			name := fmt.Sprintf("extra-%d.txt", len(es))
			es = append(es, entry{name, []byte(name)})
			m.Files = append(m.Files, listed(name, []byte(name)))
		}
		setManifest(t, es, m, fuzzKey)
		_, err := Verify(rezip(t, es, fuzzKey), pub)
		if n == maxFiles && err != nil {
			t.Errorf("%d files: %v", n, err)
		}
		if n > maxFiles && (!errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), fmt.Sprintf("%d files", n))) {
			t.Errorf("%d files: %v", n, err)
		}
	}
}

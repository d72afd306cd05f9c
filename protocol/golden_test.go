package protocol

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The files in testdata/golden are the wire encoding of protocol version 1:
// one frame per message type, as Append writes it today. A change of these
// bytes means a new protocol version. Within version 1 a message may only
// gain fields under new keys (which changes no existing golden file); any
// other change breaks peers that are already deployed and needs a new
// Version and ALPN. Rewrite the files with
//
//	go test ./protocol -run TestGolden -update
//
// only together with such a version change, and keep the old files for the
// old version's decoder.
//
// One part of a frame is not the protocol's own choice: the DEFLATE stream of
// a compressed frame is whatever the compressor produces (compress/flate's
// when snapshot-deflate.bin was written, klauspost/compress's stateless
// encoder since), and any conforming stream decodes the same. For a compressed frame the test therefore also
// accepts different compressed bytes when the header and the inflated CBOR
// payload are byte-for-byte identical, and says so in the log.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func goldenPath(name string) string {
	return filepath.Join("testdata", "golden", name+".bin")
}

func TestGoldenEncode(t *testing.T) {
	if *update {
		if err := os.MkdirAll(filepath.Join("testdata", "golden"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range goldenMessages() {
		t.Run(g.name, func(t *testing.T) {
			got := mustAppend(t, g.msg)
			if *update {
				if err := os.WriteFile(goldenPath(g.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath(g.name))
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if bytes.Equal(got, want) {
				return
			}
			gotHd, gotPayload := splitFrame(t, got)
			wantHd, wantPayload := splitFrame(t, want)
			if bytes.Equal(got[:4], want[:4]) && gotHd.Flags&FlagDeflate != 0 && bytes.Equal(gotPayload, wantPayload) {
				t.Logf("the DEFLATE stream differs from %s (%d bytes, golden %d), but it inflates to the same CBOR payload: the compressor changed, the protocol did not",
					goldenPath(g.name), gotHd.Length, wantHd.Length)
				return
			}
			t.Errorf("%s encodes differently from %s: a change of these bytes means a new protocol version\n%s",
				g.name, goldenPath(g.name), firstDiff(got, want))
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	for _, g := range goldenMessages() {
		t.Run(g.name, func(t *testing.T) {
			b, err := os.ReadFile(goldenPath(g.name))
			if err != nil {
				t.Fatal(err)
			}
			m, n, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(b) {
				t.Errorf("Decode used %d of %d bytes", n, len(b))
			}
			if !reflect.DeepEqual(m, g.msg) {
				t.Errorf("Decode(%s) =\n%#v\nwant\n%#v", goldenPath(g.name), m, g.msg)
			}
			r := bytes.NewReader(b)
			m, err = Read(r)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(m, g.msg) {
				t.Errorf("Read(%s) =\n%#v\nwant\n%#v", goldenPath(g.name), m, g.msg)
			}
			if r.Len() != 0 {
				t.Errorf("Read left %d bytes", r.Len())
			}
		})
	}
}

// TestGoldenCoverage checks that the golden set holds every message type,
// that exactly the large snapshot crosses the compression threshold, and that
// testdata/golden holds no file without a message.
func TestGoldenCoverage(t *testing.T) {
	types := map[Type]bool{}
	names := map[string]bool{}
	for _, g := range goldenMessages() {
		types[g.msg.Type()] = true
		names[g.name+".bin"] = true
		if err := g.msg.Validate(); err != nil {
			t.Errorf("golden %s is not valid: %v", g.name, err)
		}
		hd, _ := splitFrame(t, mustAppend(t, g.msg))
		if hd.Type != g.msg.Type() {
			t.Errorf("golden %s: header type %s, want %s", g.name, hd.Type, g.msg.Type())
		}
		compressed := hd.Flags&FlagDeflate != 0
		if want := g.name == "snapshot-deflate"; compressed != want {
			t.Errorf("golden %s: compressed %v, want %v", g.name, compressed, want)
		}
	}
	for _, typ := range registeredTypes() {
		if !types[typ] {
			t.Errorf("no golden message of type %s", typ)
		}
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !names[e.Name()] {
			t.Errorf("testdata/golden/%s belongs to no golden message", e.Name())
		}
	}
}

// firstDiff describes where two encodings first differ.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-8)
	window := func(b []byte) string {
		return hex.EncodeToString(b[min(lo, len(b)):min(i+16, len(b))])
	}
	return fmt.Sprintf("lengths: got %d, want %d; first difference at byte %d\ngot  [%d:]: %s\nwant [%d:]: %s",
		len(got), len(want), i, lo, window(got), lo, window(want))
}

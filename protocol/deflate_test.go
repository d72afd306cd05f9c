package protocol

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestDeflateIsPlainDEFLATE: what the compressor writes is a DEFLATE
// stream that Go's compress/flate reads back byte for byte, as collectors
// and agents already deployed decode frames: compressible and
// incompressible payloads, around the encoder's 32 KB blocks, up to a
// megabyte.
func TestDeflateIsPlainDEFLATE(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	full := mustMarshal(t, fullSnapshot())
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"just over the threshold", bytes.Repeat([]byte("a"), compressAbove+1)},
		{"a full snapshot", full},
		{"incompressible", noise(100 << 10)},
		{"inflated in one pass, to the byte", bytes.Repeat([]byte("0123456789abcdef"), onePass/16)},
		{"one byte past one pass", append(bytes.Repeat([]byte("0123456789abcdef"), onePass/16), 'x')},
		{"32 KB block edge", bytes.Repeat([]byte("0123456789abcdef"), 32<<10/16+1)},
		{"a megabyte of snapshots", bytes.Repeat(full, 1<<20/len(full)+1)},
		{"compressible then incompressible", append(bytes.Repeat(full, 3), noise(70<<10)...)},
	} {
		z, err := Deflate(tc.p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
		if err != nil || !bytes.Equal(got, tc.p) {
			t.Errorf("%s: compress/flate read %d bytes (%v), want the %d written", tc.name, len(got), err, len(tc.p))
		}
		if out, err := inflate(nil, z, TypeSnapshot); err != nil || !bytes.Equal(out, tc.p) {
			t.Errorf("%s: inflate: %d bytes, %v", tc.name, len(out), err)
		}
		// Into a used buffer, as Read does with its pooled ones.
		if out, err := inflate(bytes.Repeat([]byte{0xff}, 100), z, TypeSnapshot); err != nil || !bytes.Equal(out, tc.p) {
			t.Errorf("%s: inflate into a used buffer: %d bytes, %v", tc.name, len(out), err)
		}
	}
}

// TestDeflateAfterGC: compressing a full snapshot after the garbage
// collector has run, as an agent's snapshots minutes apart do, allocates
// a few hundred KB, not a compressor of a megabyte built again (see
// BenchmarkEncodeSnapshotAfterGC).
func TestDeflateAfterGC(t *testing.T) {
	p := mustMarshal(t, fullSnapshot())
	const limit = 512 << 10
	for range 3 {
		runtime.GC()
		if n := allocated(func() {
			if _, err := Deflate(p); err != nil {
				t.Fatal(err)
			}
		}); n > limit {
			t.Errorf("compressing %d bytes after a GC allocated %d bytes, want at most %d", len(p), n, limit)
		}
	}
}

// TestInflateLimit: Inflate gives back what Deflate took in, and refuses a
// stream one byte past its limit without producing it.
func TestInflateLimit(t *testing.T) {
	in := bytes.Repeat([]byte("sonde "), 100)
	z, err := Deflate(in)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := Inflate(z, len(in)); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("Inflate at the limit: %d bytes, %v", len(out), err)
	}
	if out, err := Inflate(z, len(in)-1); err == nil || out != nil {
		t.Fatalf("Inflate one byte past the limit: %d bytes, %v; want an error", len(out), err)
	}
	if _, err := Inflate([]byte{0xff, 0xff}, 10); err == nil {
		t.Fatal("Inflate of a broken stream: no error")
	}
}

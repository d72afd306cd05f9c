package sqlite

import (
	"bytes"
	"strings"
	"testing"
)

// TestDecompressReusesDecoders reads blobs one after another through the
// pooled decoders: each comes out whole and alone (nothing of the one
// before), a corrupt one is an error, and the decoder it used still reads
// the next; a plain JSON row from before compression reads as it is.
func TestDecompressReusesDecoders(t *testing.T) {
	a := []byte(`[{"probe":"cpu","data":{"load":` + strings.Repeat("1", 3000) + `}}]`)
	b := []byte(`[{"probe":"memory","data":{}}]`)
	za, err := compress(a)
	if err != nil {
		t.Fatal(err)
	}
	zb, err := compress(b)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte{deflated}, 0xff, 0xff, 0xff)
	for i := range 20 {
		for _, c := range []struct{ in, want []byte }{{za, a}, {zb, b}, {b, b}} {
			got, err := decompress(c.in)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("round %d: decompress = %.40q, %v; want %.40q", i, got, err, c.want)
			}
		}
		if _, err := decompress(corrupt); err == nil || !strings.Contains(err.Error(), "inflating stored probe results") {
			t.Fatalf("round %d: a corrupt blob gave %v, want an error that says so", i, err)
		}
	}
	if allocs := testing.AllocsPerRun(50, func() { _, _ = decompress(zb) }); allocs > 3 {
		t.Errorf("decompress allocates %.0f times a call: the decoder is not reused", allocs)
	}
}

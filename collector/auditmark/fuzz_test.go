package auditmark

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// FuzzDecodeTail feeds the checkpoint file's decoder (the last whole line
// of a file's tail, as ReadLatest reads it) arbitrary bytes: it never
// panics, and what it accepts encodes and decodes to the same checkpoint.
func FuzzDecodeTail(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	one := Make(key, 7, make([]byte, HashSize), time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)).Encode()
	two := Make(key, 8, make([]byte, HashSize), time.Date(2026, 1, 2, 3, 5, 5, 6, time.UTC)).Encode()
	f.Add(append(one, '\n'), true)
	f.Add(append(append(append(one, '\n'), two...), '\n'), true)
	f.Add(append(append(one, '\n'), two[:40]...), true)
	f.Add(append(one, '\n'), false)
	f.Add([]byte("{}\n"), true)
	f.Add([]byte("\n\n"), true)
	f.Fuzz(func(t *testing.T, tail []byte, whole bool) {
		c, err := decodeTail(tail, whole)
		if err != nil {
			return
		}
		d, err := Decode(c.Encode())
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", c, err)
		}
		if d != c || !d.At.Equal(c.At) {
			t.Fatalf("round trip: %+v, then %+v", c, d)
		}
		_ = c.Verify(nil) // must not panic on whatever key and signature it holds
	})
}

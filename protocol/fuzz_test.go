package protocol

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"slices"
	"testing"
)

// addSeeds adds every golden frame and a few mutations of each to the
// corpus.
func addSeeds(f *testing.F) {
	for _, g := range goldenMessages() {
		b, err := os.ReadFile(goldenPath(g.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:HeaderSize])
		f.Add(b[:len(b)-1])
		f.Add(append(slices.Clone(b), b...)) // two frames
		flipped := slices.Clone(b)
		flipped[len(b)/2] ^= 0x5a
		f.Add(flipped)
		toggled := slices.Clone(b)
		toggled[3] ^= FlagDeflate
		f.Add(toggled)
		retyped := slices.Clone(b)
		retyped[2] = byte(TypeSnapshot)
		f.Add(retyped)
		if g.name == "snapshot" {
			// Same payload, compressed by hand at another level.
			hd, p := splitFrame(f, b)
			f.Add(frame(hd.Type, FlagDeflate, deflateBytes(f, p)))
			// Empty array and byte string where omitempty leaves the key out.
			f.Add(rawFrame(f, TypeSnapshot, map[int]any{2: 1, 3: "a", 5: 1, 6: 1, 7: []any{map[int]any{1: "cpu", 2: []byte{}, 4: 0}}}))
			f.Add(rawFrame(f, TypeHello, map[int]any{1: "a", 3: []byte{1}, 6: []string{}}))
			// A challenge and a proof a byte short, and an empty
			// introduce.
			f.Add(rawFrame(f, TypeHello, map[int]any{1: "a", 3: []byte{1}, 8: make([]byte, ChallengeLen-1)}))
			f.Add(rawFrame(f, TypeWelcome, map[int]any{1: 1, 3: make([]byte, 63)}))
			f.Add(rawFrame(f, TypeIntroduce, map[int]any{}))
		}
	}
	long := binary.BigEndian.AppendUint32([]byte{magic, Version, byte(TypeSnapshot), 0}, MaxFrameSize+1)
	f.Add(long)
	f.Add([]byte{})
}

func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := Decode(b)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned %v with error %v", m, err)
			}
			if len(classify(err)) != 1 {
				t.Fatalf("Decode error %q wraps %v, want exactly one sentinel", err, classify(err))
			}
			return
		}
		if n < HeaderSize || n > len(b) {
			t.Fatalf("Decode used %d of %d bytes", n, len(b))
		}
		checkRoundTrip(t, m)
	})
}

func FuzzRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		m, err := Read(r)
		dm, dn, derr := Decode(b)
		if err != nil {
			if m != nil {
				t.Fatalf("Read returned %v with error %v", m, err)
			}
			// Read and Decode agree, except that Read reports a stream
			// ending inside a header as io.EOF or io.ErrUnexpectedEOF.
			if derr == nil {
				t.Fatalf("Read failed (%v) where Decode succeeded", err)
			}
			return
		}
		if derr != nil {
			t.Fatalf("Read succeeded where Decode failed (%v)", derr)
		}
		if used := len(b) - r.Len(); used != dn {
			t.Fatalf("Read used %d bytes, Decode %d", used, dn)
		}
		if !reflect.DeepEqual(m, dm) {
			t.Fatalf("Read = %#v, Decode = %#v", m, dm)
		}
		checkRoundTrip(t, m)
	})
}

// checkRoundTrip checks a decoded message m: it encodes, the encoding decodes
// to the same message, and encoding is stable.
//
// The first decoding may start from any acceptable input, so m can hold an
// empty slice where the canonical encoding leaves the key out (and decodes
// to nil); m and its re-decoding are therefore compared with empty slices
// set to nil. From the canonical encoding on, the round trip is exact.
func checkRoundTrip(t *testing.T, m Message) {
	t.Helper()
	b1, err := Append(nil, m)
	if err != nil {
		t.Fatalf("Append(decoded %s): %v", m.Type(), err)
	}
	if again, err := Append(nil, m); err != nil || !bytes.Equal(again, b1) {
		t.Fatalf("encoding %s twice gives different bytes", m.Type())
	}
	m2, n, err := Decode(b1)
	if err != nil {
		t.Fatalf("Decode(Append(m)): %v\nm = %#v", err, m)
	}
	if n != len(b1) {
		t.Fatalf("Decode(Append(m)) used %d of %d bytes", n, len(b1))
	}
	b2, err := Append(nil, m2)
	if err != nil {
		t.Fatalf("Append(m2): %v", err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("re-encoding is not stable:\n%s", firstDiff(b2, b1))
	}
	m3, _, err := Decode(b2)
	if err != nil {
		t.Fatalf("Decode(b2): %v", err)
	}
	if !reflect.DeepEqual(m2, m3) {
		t.Fatalf("canonical round trip differs:\n%#v\n%#v", m2, m3)
	}
	nilEmpty(m)
	nilEmpty(m2)
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip differs:\n%#v\n%#v", m, m2)
	}
}

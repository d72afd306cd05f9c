package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCloseRecordEncoding freezes the CLOSE record's bytes: type 2, body
// length, code 503 as a uvarint, reason length, reason.
func TestCloseRecordEncoding(t *testing.T) {
	got := appendClose(nil, 503, "busy")
	want := []byte{2, 7, 0xf7, 0x03, 4, 'b', 'u', 's', 'y'}
	if !bytes.Equal(got, want) {
		t.Fatalf("CLOSE 503 \"busy\" = % x, want % x", got, want)
	}
	if got := appendStreamRecord(nil, recStop, 5, 0); !bytes.Equal(got, []byte{4, 2, 5, 0}) {
		t.Errorf("STOP 5 0 = % x", got)
	}
	if got := appendParams(nil, 12000); !bytes.Equal(got, []byte{1, 2, 0xe0, 0x5d}) {
		t.Errorf("PARAMS 12000 = % x", got)
	}
}

// read runs the record reader over b and returns the MUX bytes and the
// control records it met, and its error at the end.
func read(b []byte) (mux []byte, ctls []control, err error) {
	r := &recordReader{br: bufio.NewReader(bytes.NewReader(b)), handle: func(c control) error {
		ctls = append(ctls, c)
		return nil
	}}
	mux, err = io.ReadAll(r)
	return mux, ctls, err
}

func TestRecordReader(t *testing.T) {
	var b []byte
	b = appendParams(b, 15000)
	b = appendRecord(b, recMux, []byte("yamux "))
	b = appendStreamRecord(b, recReset, 7, 9)
	b = appendRecord(b, 99, []byte("a later record type"))
	b = appendRecord(b, recMux, []byte("bytes"))
	b = appendRecord(b, recStop, append(appendStreamRecord(nil, recStop, 8, 1)[2:], "later fields"...))
	b = appendClose(b, 401, "revoked")
	mux, ctls, err := read(b)
	if err != nil || string(mux) != "yamux bytes" {
		t.Fatalf("read %q, %v; want the MUX bytes and a clean end", mux, err)
	}
	want := []control{{typ: recParams, idle: 15000}, {typ: recReset, stream: 7, code: 9}, {typ: 99},
		{typ: recStop, stream: 8, code: 1}, {typ: recClose, code: 401, reason: "revoked"}}
	if len(ctls) != len(want) {
		t.Fatalf("control records %+v, want %+v", ctls, want)
	}
	for i := range want {
		if ctls[i] != want[i] {
			t.Errorf("control record %d = %+v, want %+v", i, ctls[i], want[i])
		}
	}
}

func TestRecordReaderRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty MUX record":     {recMux, 0},
		"MUX record too large": appendUvarintRec(recMux, maxMux+1),
		"control too large":    appendUvarintRec(recClose, maxControl+1),
		"reason too long":      appendRecord(nil, recClose, append([]byte{1, 0x81, 0x08}, make([]byte, 1025)...)),
		"reason past the body": appendRecord(nil, recClose, []byte{1, 5, 'a'}),
		"bad varint":           appendRecord(nil, recReset, []byte{0x80}),
		"stream ID too large":  appendRecord(nil, recStop, []byte{0x80, 0x80, 0x80, 0x80, 0x10, 0}),
		"cut in a header":      {recMux},
		"cut in a body":        {recClose, 5, 1},
		"cut in a MUX body":    {recMux, 5, 'a'},
	} {
		_, _, err := read(b)
		if err == nil || (!errors.Is(err, errProtocol) && !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Errorf("%s: %v, want a protocol error or an unexpected EOF", name, err)
		}
	}
}

func appendUvarintRec(typ byte, n uint64) []byte {
	return append([]byte{typ}, appendParams(nil, n)[2:]...)
}

func TestCutReason(t *testing.T) {
	long := strings.Repeat("é", MaxReason) // 2 bytes each
	got := cutReason(long)
	if len(got) > MaxReason || !utf8.ValidString(got) || len(got) < MaxReason-1 {
		t.Errorf("cut reason of %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := cutReason("bad \xff byte"); got != "bad \uFFFD byte" {
		t.Errorf("cutReason kept invalid UTF-8: %q", got)
	}
	_, ctls, _ := read(appendClose(nil, 1, long))
	if len(ctls) != 1 || ctls[0].reason != got {
		t.Errorf("a long reason does not survive the round trip: %+v", ctls)
	}
}

// FuzzRecords feeds arbitrary bytes to the record reader: it never panics,
// never returns more MUX bytes than it read, and every control record it
// passes on is within its bounds; a CLOSE it encodes reads back the same.
func FuzzRecords(f *testing.F) {
	f.Add(appendClose(nil, 503, "collector shutting down"))
	f.Add(append(appendParams(nil, 12000), appendRecord(nil, recMux, []byte("x"))...))
	f.Add(appendStreamRecord(appendStreamRecord(nil, recReset, 3, 0), recStop, 4, 1))
	f.Add(appendRecord(nil, 77, []byte("unknown")))
	f.Add([]byte{recClose, 3, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		mux, ctls, _ := read(b)
		if len(mux) > len(b) {
			t.Fatalf("%d MUX bytes out of %d", len(mux), len(b))
		}
		for _, c := range ctls {
			if len(c.reason) > MaxReason || !utf8.ValidString(c.reason) {
				t.Fatalf("reason of %d bytes, valid %v", len(c.reason), utf8.ValidString(c.reason))
			}
			if c.stream > 1<<32-1 {
				t.Fatalf("stream %d", c.stream)
			}
		}
		code := uint64(len(b)) << 40
		reason := cutReason(string(b))
		_, back, err := read(appendClose(nil, code, string(b)))
		if err != nil || len(back) != 1 || back[0].code != code || back[0].reason != reason {
			t.Fatalf("CLOSE %d %q read back as %+v, %v", code, reason, back, err)
		}
	})
}

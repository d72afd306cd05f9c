package plist

import (
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBothFormats decodes one dict written by Python's plistlib as XML
// and as a binary plist: both give the same values, of the right types.
func TestBothFormats(t *testing.T) {
	want := Dict{
		"CFBundleName":               "Café ☃",
		"CFBundleIdentifier":         "com.example.cafe",
		"CFBundleShortVersionString": "2.4.1",
		"LSMinimumSystemVersion":     "12.0",
		"Count":                      int64(42),
		"Negative":                   int64(-7),
		"Big":                        int64(1<<40 + 3),
		"Huge":                       uint64(1<<64 - 1),
		"Ratio":                      0.25,
		"Enabled":                    true,
		"Disabled":                   false,
		"Built":                      time.Date(2024, 3, 15, 9, 30, 0, 0, time.UTC),
		"Icon":                       []byte{0, 1, 0xfe, 0xff},
		"Types":                      []any{"public.text", Dict{"Role": "Viewer", "Rank": int64(1)}, []any{}},
		"Nested":                     Dict{"Empty": Dict{}, "List": []any{int64(1), 2.5, "three"}},
	}
	for _, name := range []string{"all-types.xml.plist", "all-types.binary.plist"} {
		t.Run(name, func(t *testing.T) {
			d, err := ParseDict(readFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range want {
				if got := d[k]; !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
			if len(d) != len(want) {
				t.Errorf("%d keys, want %d", len(d), len(want))
			}
			if s, ok := d.String("CFBundleName"); !ok || s != "Café ☃" {
				t.Errorf("String = %q, %v", s, ok)
			}
			if _, ok := d.String("Count"); ok {
				t.Error("String of an integer")
			}
			if tm, ok := d.Date("Built"); !ok || tm.Year() != 2024 {
				t.Errorf("Date = %v, %v", tm, ok)
			}
		})
	}
}

// bplist builds a binary plist of one-byte offsets and references from
// its objects, the first being the top.
func bplist(objects ...[]byte) []byte {
	b := []byte("bplist00")
	var offsets []byte
	for _, o := range objects {
		offsets = append(offsets, byte(len(b)))
		b = append(b, o...)
	}
	table := len(b)
	b = append(b, offsets...)
	trailer := make([]byte, 32)
	trailer[6], trailer[7] = 1, 1
	binary.BigEndian.PutUint64(trailer[8:], uint64(len(objects)))
	binary.BigEndian.PutUint64(trailer[24:], uint64(table))
	return append(b, trailer...)
}

func TestBinaryErrors(t *testing.T) {
	deep := [][]byte{}
	for i := range MaxDepth + 2 {
		deep = append(deep, []byte{0xa1, byte(i + 1)})
	}
	deep = append(deep, []byte{0x09})
	for _, c := range []struct {
		name, want string
		b          []byte
	}{
		{"short", "too short", []byte("bplist00xyz")},
		{"version", "not supported", []byte("bplist15" + strings.Repeat("x", 64))},
		{"bad marker", "bad object marker 0x70", bplist([]byte{0x70})},
		{"self loop", "nested deeper", bplist([]byte{0xa1, 0})},
		{"deep", "nested deeper", bplist(deep...)},
		{"bad ref", "reference to object 7", bplist([]byte{0xa1, 7})},
		{"string past end", "runs past", bplist([]byte{0x5f, 0x10, 0xff, 'a'})},
		{"int key", "not a string", bplist([]byte{0xd1, 1, 1}, []byte{0x10, 3})},
		{"nan date", "out of range", bplist(append([]byte{0x33}, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1))},
		{"wide int", "does not fit", bplist(append([]byte{0x14}, append([]byte{0, 0, 0, 1, 0, 0, 0, 0}, make([]byte, 8)...)...))},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Parse(c.b)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse = %#v, %v; want an error with %q", v, err, c.want)
			}
		})
	}
	// The trailer's numbers are checked before anything is read.
	b := bplist([]byte{0x09})
	binary.BigEndian.PutUint64(b[len(b)-24:], 1<<60)
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "objects") {
		t.Errorf("huge object count: %v", err)
	}
}

// TestSharedObjects: a binary plist whose arrays each refer to the next
// one twice would decode to 2^n values; the value budget stops it.
func TestSharedObjects(t *testing.T) {
	var objs [][]byte
	for i := range 40 {
		objs = append(objs, []byte{0xa2, byte(i + 1), byte(i + 1)})
	}
	objs = append(objs, []byte{0x09})
	if _, err := Parse(bplist(objs...)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("exponential sharing: %v", err)
	}
}

func TestXMLErrors(t *testing.T) {
	head := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">`
	for _, c := range []struct{ name, in, want string }{
		{"empty", ``, "unexpected end"},
		{"no value", head + `</plist>`, "holds no value"},
		{"two values", head + `<true/><false/></plist>`, "more than one value"},
		{"key without value", head + `<dict><key>a</key></dict></plist>`, `key "a" has no value`},
		{"value without key", head + `<dict><string>a</string></dict></plist>`, "expects <key>"},
		{"bad integer", head + `<integer>12a</integer></plist>`, "bad <integer>"},
		{"bad date", head + `<date>yesterday</date></plist>`, "bad <date>"},
		{"bad data", head + `<data>!!</data></plist>`, "bad <data>"},
		{"text in true", head + `<true>yes</true></plist>`, "bad <true>"},
		{"unknown", head + `<color>red</color></plist>`, "unknown element"},
		{"child in string", head + `<string>a<b/></string></plist>`, "unexpected element"},
		{"unclosed", head + `<array><string>a</string>`, "unexpected EOF"},
		{"entity", `<!DOCTYPE plist [<!ENTITY x "boom">]><plist><string>&x;</string></plist>`, "invalid character entity"},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><plist><string>a</string></plist>`, "ISO-8859-1"},
		{"deep", strings.Repeat("<array>", MaxDepth+2), "nested deeper"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Parse([]byte(c.in))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse = %#v, %v; want an error with %q", v, err, c.want)
			}
		})
	}
	if _, err := ParseDict([]byte(head + `<array/></plist>`)); err == nil || !strings.Contains(err.Error(), "an array, not a dict") {
		t.Errorf("ParseDict of an array: %v", err)
	}
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized input: %v", err)
	}
}

func TestXMLIntegers(t *testing.T) {
	for in, want := range map[string]any{
		"0": int64(0), "-9223372036854775808": int64(-1 << 63), "9223372036854775808": uint64(1 << 63),
		"0x1F": int64(31), "+5": int64(5),
	} {
		v, err := Parse([]byte("<plist><integer>" + in + "</integer></plist>"))
		if err != nil || v != want {
			t.Errorf("%s: %#v, %v; want %#v", in, v, err, want)
		}
	}
	for _, in := range []string{"", "-", "--1", "-9223372036854775809", "18446744073709551616"} {
		if v, err := Parse([]byte("<plist><integer>" + in + "</integer></plist>")); err == nil {
			t.Errorf("%q: %#v, want an error", in, v)
		}
	}
}

// FuzzParse: whatever the bytes, Parse returns a value or an error, never
// panics, and a value stays within the depth bound with valid UTF-8
// strings.
func FuzzParse(f *testing.F) {
	f.Add(readFixture(f, "all-types.xml.plist"))
	f.Add(readFixture(f, "all-types.binary.plist"))
	f.Add(bplist([]byte{0xa2, 1, 1}, []byte{0xd1, 2, 3}, []byte{0x51, 'k'}, []byte{0x33, 0x41, 0xc0, 0, 0, 0, 0, 0, 0}))
	f.Add([]byte(`<plist><dict><key>a</key><array><real>1.5</real><data>AAE=</data></array></dict></plist>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error without ErrFormat: %v", err)
			}
			return
		}
		check(t, v, 0)
	})
}

func check(t *testing.T, v any, depth int) {
	if depth > MaxDepth+1 {
		t.Fatalf("value nested %d deep", depth)
	}
	switch x := v.(type) {
	case Dict:
		for k, e := range x {
			if !utf8.ValidString(k) {
				t.Fatalf("invalid UTF-8 key %q", k)
			}
			check(t, e, depth+1)
		}
	case []any:
		for _, e := range x {
			check(t, e, depth+1)
		}
	case string:
		if !utf8.ValidString(x) {
			t.Fatalf("invalid UTF-8 string %q", x)
		}
	}
}

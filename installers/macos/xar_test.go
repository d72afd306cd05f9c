package macos

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var xarTestEntries = []xarEntry{
	{Path: "a.txt", Mode: 0o644, Data: []byte(strings.Repeat("squeeze me ", 100)), Compress: true},
	{Path: "d", Dir: true, Mode: 0o755},
	{Path: "d/e", Dir: true, Mode: 0o700},
	{Path: "d/e/raw", Mode: 0o600, Data: []byte("stored as it is")},
	{Path: "d/empty", Mode: 0o644, Data: []byte{}},
}

func TestXarRoundTrip(t *testing.T) {
	b, err := writeXar(xarTestEntries, epoch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readXar(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, xarTestEntries) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, xarTestEntries)
	}
	// The header: magic, size 28, version 1, the TOC's lengths, SHA-1.
	if m, n, v, alg := binary.BigEndian.Uint32(b), binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), binary.BigEndian.Uint32(b[24:]); m != 0x78617221 || n != 28 || v != 1 || alg != 1 {
		t.Errorf("header magic %x size %d version %d checksum %d", m, n, v, alg)
	}
	// The heap starts with the SHA-1 of the compressed TOC.
	zlen := binary.BigEndian.Uint64(b[8:])
	sum := sha1.Sum(b[28 : 28+zlen])
	if !bytes.Equal(b[28+zlen:28+zlen+20], sum[:]) {
		t.Error("the heap does not start with the TOC's SHA-1")
	}
}

// TestXarTOC reads the TOC's XML for what xar's own tools look for.
func TestXarTOC(t *testing.T) {
	b, err := writeXar(xarTestEntries, epoch)
	if err != nil {
		t.Fatal(err)
	}
	toc, err := inflate(b[28:28+binary.BigEndian.Uint64(b[8:])], binary.BigEndian.Uint64(b[16:]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<checksum style="sha1">`, `<offset>0</offset>`, `<size>20</size>`,
		`<creation-time>2025-03-14T15:09:26Z</creation-time>`,
		`<file id="4">`, `<name>raw</name>`, `<type>directory</type>`, `<mode>0700</mode>`,
		`<encoding style="application/x-gzip"></encoding>`, `<encoding style="application/octet-stream"></encoding>`,
		`<archived-checksum style="sha1">`, `<extracted-checksum style="sha1">`, `<user>root</user>`, `<group>wheel</group>`,
	} {
		if !bytes.Contains(toc, []byte(want)) {
			t.Errorf("the TOC lacks %s:\n%s", want, toc)
		}
	}
}

func TestXarChecksums(t *testing.T) {
	good, err := writeXar(xarTestEntries, epoch)
	if err != nil {
		t.Fatal(err)
	}
	zlen := binary.BigEndian.Uint64(good[8:])
	for name, at := range map[string]int{
		"the TOC's zlib":     28 + int(zlen) - 6, // the zlib stream's checksum
		"the TOC's checksum": 28 + int(zlen) + 3,
		"raw data":           len(good) - 1, // "d/e/raw" is the last data
		"compressed data":    28 + int(zlen) + 20 + 3,
	} {
		b := bytes.Clone(good)
		b[at] ^= 0x10
		_, err := readXar(b)
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, errXar) {
			t.Errorf("%s changed: readXar said %v", name, err)
		}
	}
}

// TestXarTOCChanged changes the TOC (well compressed, with the header's
// lengths right) and expects readXar to see that the heap's checksum no
// longer matches it.
func TestXarTOCChanged(t *testing.T) {
	good, err := writeXar(xarTestEntries, epoch)
	if err != nil {
		t.Fatal(err)
	}
	zlen, xlen := binary.BigEndian.Uint64(good[8:]), binary.BigEndian.Uint64(good[16:])
	toc, err := inflate(good[28:28+zlen], xlen)
	if err != nil {
		t.Fatal(err)
	}
	toc = bytes.Replace(toc, []byte("<mode>0600</mode>"), []byte("<mode>4755</mode>"), 1)
	ztoc, err := zlibBytes(toc)
	if err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Clone(good[:28]), ztoc...)
	binary.BigEndian.PutUint64(b[8:], uint64(len(ztoc)))
	b = append(b, good[28+zlen:]...)
	if _, err := readXar(b); err == nil || !strings.Contains(err.Error(), "does not match its \"sha1\" checksum") {
		t.Errorf("readXar of a changed TOC said %v", err)
	}
}

func TestXarErrors(t *testing.T) {
	for name, entries := range map[string][]xarEntry{
		"no folder":     {{Path: "d/a", Data: []byte("x")}},
		"a file folder": {{Path: "a", Data: []byte("x")}, {Path: "a/b", Data: []byte("x")}},
		"a path twice":  {{Path: "a"}, {Path: "a"}},
		"an absolute":   {{Path: "/a"}},
		"dot dot":       {{Path: "d", Dir: true}, {Path: "d/.."}},
	} {
		if _, err := writeXar(entries, epoch); err == nil {
			t.Errorf("%s: writeXar took it", name)
		}
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"not xar":      []byte("BOMStore and so on, longer than a header"),
		"header alone": binary.BigEndian.AppendUint32(nil, xarMagic),
	} {
		if _, err := readXar(b); !errors.Is(err, errXar) {
			t.Errorf("%s: readXar said %v", name, err)
		}
	}
}

func FuzzReadXar(f *testing.F) {
	good, err := writeXar(xarTestEntries, epoch)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	pkg, _ := testPackage(f)
	f.Add(pkg)
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := readXar(b)
		if err != nil {
			return
		}
		if len(entries) > maxXarFiles {
			t.Errorf("%d entries, over %d", len(entries), maxXarFiles)
		}
		for _, e := range entries {
			if strings.Count(e.Path, "/") > maxXarDepth+1 || strings.Contains(e.Path, "..") {
				t.Errorf("entry %q", e.Path)
			}
		}
	})
}

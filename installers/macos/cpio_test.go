package macos

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

var cpioTestFiles = []file{
	{Path: ".", Mode: 0o40755, MTime: 1700000000},
	{Path: "./bin", Mode: 0o40700, UID: 0, GID: 80, MTime: 1700000000},
	{Path: "./bin/tool", Mode: 0o100755, MTime: 1700000000, Data: []byte("#!/bin/sh\necho hi\n")},
	{Path: "./empty", Mode: 0o100600, UID: 501, GID: 20, MTime: 1},
}

func TestCpioRoundTrip(t *testing.T) {
	b, err := gzipCpio(cpioTestFiles)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readGzipCpio(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cpioTestFiles) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, cpioTestFiles)
	}
}

// TestCpioOdc checks the bytes of one entry against the odc layout.
func TestCpioOdc(t *testing.T) {
	b, err := gzipCpio(cpioTestFiles[2:3])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want := "070707" + "000000" + "000001" + "100755" + "000000" + "000000" + "000001" + "000000" +
		"14524770400" + "000013" + "00000000022" + "./bin/tool\x00" + "#!/bin/sh\necho hi\n" +
		"070707" + "000000" + "000000" + "000000" + "000000" + "000000" + "000001" + "000000" +
		"00000000000" + "000013" + "00000000000" + "TRAILER!!!\x00"
	if string(raw) != want {
		t.Errorf("odc bytes\n%q\nwant\n%q", raw, want)
	}
}

func TestCpioErrors(t *testing.T) {
	good, err := gzipCpio(cpioTestFiles)
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(good))
	raw, _ := io.ReadAll(zr)
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	huge := strings.Replace(string(raw), "00000000022./bin/tool", "77777777777./bin/tool", 1)
	for name, b := range map[string][]byte{
		"not gzip":      []byte("070707"),
		"no trailer":    gz(string(raw[:len(raw)-87])),
		"newc":          gz("070701" + string(raw[6:])),
		"bad octal":     gz(strings.Replace(string(raw), "100755", "10075x", 1)),
		"a huge file":   gz(huge),
		"a path twice":  mustCpio(t, []file{cpioTestFiles[0], cpioTestFiles[0]}),
		"a folder data": mustCpio(t, []file{{Path: "./d", Mode: 0o40755, Data: []byte("x")}}),
	} {
		_, err := readGzipCpio(b)
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, errCpio) {
			t.Errorf("%s: readGzipCpio said %v", name, err)
		}
	}
}

func FuzzReadGzipCpio(f *testing.F) {
	good, err := gzipCpio(cpioTestFiles)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := readGzipCpio(b)
		if err != nil {
			return
		}
		total := 0
		for _, f := range files {
			total += len(f.Data)
			if len(f.Path) > maxPath {
				t.Errorf("a path of %d bytes", len(f.Path))
			}
		}
		if len(files) > maxCpioEntries || total > maxCpioBytes {
			t.Errorf("%d entries, %d bytes", len(files), total)
		}
	})
}

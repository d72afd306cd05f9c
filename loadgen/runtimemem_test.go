package loadgen

import (
	"bytes"
	"strings"
	"testing"
)

// TestRuntimeMem reads the figures the way the collector's --pprof gives
// them, and refuses text that is not that.
func TestRuntimeMem(t *testing.T) {
	heap := []byte(`heap profile: 1: 2 [3: 4] @ heap/1048576
1: 2 [3: 4] @ 0x1

# runtime.MemStats
# Alloc = 70000000
# TotalAlloc = 900000000
# Sys = 200000000
# HeapAlloc = 70000000
# HeapSys = 150000000
# HeapIdle = 60000000
# HeapInuse = 90000000
# HeapReleased = 20000000
# HeapObjects = 12345
# Stack = 24000000 / 24000000
# MSpan = 1 / 2
# NextGC = 140000000
# NumGC = 18
`)
	goroutines := []byte("goroutine profile: total 6028\n2000 @ 0x1 0x2\n")
	m, err := parseRuntimeMem(heap, goroutines)
	if err != nil {
		t.Fatal(err)
	}
	want := RuntimeMem{HeapInuse: 90e6, HeapAlloc: 70e6, HeapIdle: 60e6, HeapReleased: 20e6, StackInuse: 24e6, Sys: 200e6,
		NextGC: 140e6, NumGC: 18, Goroutines: 6028}
	if *m != want {
		t.Fatalf("got %+v\nwant %+v", *m, want)
	}
	if m.Kept() != 40e6 || m.Other() != 200e6-150e6-24e6 {
		t.Errorf("kept %d, other %d", m.Kept(), m.Other())
	}
	var out bytes.Buffer
	m.print(&out, 2000)
	for _, s := range []string{"90.0 MB (45.0 KB an agent)", "6028 goroutines (3.01 an agent)", "40.0 MB (20.0 KB an agent) (20.0 MB given back)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("printed figures lack %q:\n%s", s, out.String())
		}
	}

	for name, tc := range map[string][2][]byte{
		"no MemStats":           {[]byte("heap profile: 1: 2\n"), goroutines},
		"a figure not a number": {bytes.Replace(heap, []byte("HeapIdle = 60000000"), []byte("HeapIdle = lots"), 1), goroutines},
		"not goroutines":        {heap, []byte("heap profile: 1\n")},
	} {
		if _, err := parseRuntimeMem(tc[0], tc[1]); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

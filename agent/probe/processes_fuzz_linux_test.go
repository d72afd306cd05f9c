package probe

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzProcStat feeds parseProcStat any bytes as a /proc/<pid>/stat,
// seeded with the fixtures' and this host's: it never panics, and the
// name it returns is the text between the first '(' and the last ')'.
func FuzzProcStat(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "processes", "*", "root*", "proc", "*", "stat"))
	seeds = append(seeds, "/proc/self/stat", "/proc/2/stat")
	for _, path := range seeds {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("1 (a) b) S 0"))
	f.Add([]byte("1 (x)  S 0 0 0 0 -1 2097152"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, name, ok := parseProcStat(b)
		if !ok {
			return
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if !bytes.Equal(name, b[open+1:end]) || s.cpu < 0 || s.threads < 0 || s.state == "" {
			t.Fatalf("parseProcStat(%q) = %+v, name %q", b, s, name)
		}
	})
}

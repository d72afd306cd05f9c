package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJoinArgv feeds joinArgv any bytes as a /proc/<pid>/cmdline, seeded
// with the fixtures' command lines: it never panics, and what it returns
// is valid UTF-8 without NUL, within maxCmdlineRead, and said to be cut
// whenever it was.
func FuzzJoinArgv(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "processes", "*", "root*", "proc", "*", "cmdline"))
	for _, path := range seeds {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b, false)
		}
	}
	f.Add([]byte("a\x00\x00b\x00\"q\"\x00\xff\xfe\x00\x1b[2J\x00"), true)
	f.Add([]byte(strings.Repeat("é", maxCmdlineRead)), false)
	f.Fuzz(func(t *testing.T, argv []byte, cut bool) {
		s, gotCut := joinArgv(argv, cut)
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("joinArgv(%q) = %q: invalid UTF-8 or a NUL", argv, s)
		}
		if len(s) > maxCmdlineRead {
			t.Fatalf("joinArgv gave %d bytes, limit %d", len(s), maxCmdlineRead)
		}
		if cut && !gotCut {
			t.Fatal("a cut command line is not said to be cut")
		}
		shown, shownCut := bound(s, maxCmdline, gotCut)
		if len(shown) > maxCmdline || !utf8.ValidString(shown) || (len(s) > maxCmdline && !shownCut) {
			t.Fatalf("bound(%d bytes) = %d bytes, cut %v", len(s), len(shown), shownCut)
		}
	})
}

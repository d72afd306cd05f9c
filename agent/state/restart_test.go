package state

import (
	"strings"
	"testing"
)

// TestRestartNote: the reason saved at the end of a run is read once, at
// the next start, on one bounded line; none saved reads as none.
func TestRestartNote(t *testing.T) {
	dir := t.TempDir()
	if why, err := TakeRestart(dir); err != nil || why != "" {
		t.Fatalf("nothing saved: %q, %v", why, err)
	}
	if err := SaveRestart(dir, "memory: 180 MiB in use,\nceiling 100 MiB"+strings.Repeat("x", 1000)); err != nil {
		t.Fatal(err)
	}
	why, err := TakeRestart(dir)
	if err != nil || !strings.HasPrefix(why, "memory: 180 MiB in use, ceiling 100 MiB") || len(why) > maxRestartNote || strings.Contains(why, "\n") {
		t.Fatalf("read %q (%d bytes), %v", why, len(why), err)
	}
	if why, err := TakeRestart(dir); err != nil || why != "" {
		t.Fatalf("read twice: %q, %v", why, err)
	}
}

package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReplayMark: no mark reads as the zero time; a mark reads back as
// written, overwritten in place; a mark cut short or garbled is refused,
// not read as some other time.
func TestReplayMark(t *testing.T) {
	dir := t.TempDir()
	if got, err := LoadReplayMark(dir); err != nil || !got.IsZero() {
		t.Fatalf("no mark: %v, %v; want the zero time", got, err)
	}
	for _, at := range []time.Time{time.UnixMilli(1_800_000_000_123), time.UnixMilli(1_800_000_600_000)} {
		if err := SaveReplayMark(dir, at); err != nil {
			t.Fatal(err)
		}
		if got, err := LoadReplayMark(dir); err != nil || !got.Equal(at) {
			t.Fatalf("read back %v, %v; want %v", got, err, at)
		}
	}
	path := filepath.Join(dir, replayFile)
	if fi, err := os.Stat(path); err != nil || fi.Size() != 16 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the mark: %v, %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{"cut short": b[:12], "empty": nil, "garbled": append([]byte{b[0] ^ 1}, b[1:]...)} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := LoadReplayMark(dir); !errors.Is(err, ErrReplayMarkBroken) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, ErrReplayMarkBroken)
		}
	}
}

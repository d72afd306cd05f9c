//go:build linux

package probe_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestReadHostFile(t *testing.T) {
	// Larger than the pooled buffer, so that it grows.
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 3000)
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read reuses the grown buffer
		got, err := probe.ReadHostFile(path)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d bytes, err %v; want %d bytes", len(got), err, len(big))
		}
	}

	// An iterated /proc file comes a page per read(2): all pages must be read.
	want, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	got, err := probe.ReadHostFile("/proc/self/mountinfo")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("mountinfo: read %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}

	if _, err := probe.ReadHostFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err %v, want fs.ErrNotExist", err)
	}
}

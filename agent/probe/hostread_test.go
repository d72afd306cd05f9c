//go:build linux

package probe_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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

	// An iterated /proc file (mountinfo, vmstat) comes a page per read(2),
	// short of the buffer: a FIFO written in pieces does the same.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		for b := big; len(b) > 0; b = b[min(4096, len(b)):] {
			f.Write(b[:min(4096, len(b))])
			time.Sleep(time.Millisecond)
		}
	}()
	if got, err := probe.ReadHostFile(fifo); err != nil || !bytes.Equal(got, big) {
		t.Errorf("read %d bytes in pieces, err %v; want %d bytes", len(got), err, len(big))
	}

	if _, err := probe.ReadHostFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err %v, want fs.ErrNotExist", err)
	}
}

//go:build unix

package probe

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileSizeAllocated: on Unix an entry's size is the blocks it holds,
// so a sparse file counts for what it takes on the disk, not its length,
// and entries of one folder share a device.
func TestFileSizeAllocated(t *testing.T) {
	dir := t.TempDir()
	written, sparse := filepath.Join(dir, "written"), filepath.Join(dir, "sparse")
	if err := os.WriteFile(written, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 1<<30); err != nil {
		t.Fatal(err)
	}
	a, err := os.Lstat(written)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Lstat(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if n := fileSize(a); n < 64<<10 || n > 1<<20 {
		t.Errorf("64 KiB written takes %d bytes", n)
	}
	if n := fileSize(b); n >= 1<<20 {
		t.Errorf("a sparse 1 GiB file takes %d bytes", n)
	}
	da, oka := fileDevice(written, a)
	db, okb := fileDevice(sparse, b)
	if !oka || !okb || da != db {
		t.Errorf("devices %d %v, %d %v", da, oka, db, okb)
	}
}

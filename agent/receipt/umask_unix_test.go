//go:build unix

package receipt

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModeWhateverTheUmask: a umask that takes the world's read bit does
// not make the receipts root's alone.
func TestModeWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := (&Log{Dir: dir}).Add(Receipt{Kind: "periodic"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Mode().Perm() != Mode {
		t.Errorf("receipts file mode %v under umask 077", fi.Mode())
	}
}

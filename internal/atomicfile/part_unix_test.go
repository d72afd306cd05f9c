//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenPartRefusesAnotherOwner: a partial file another account left
// (a hard link to a file of root's, say) is not appended to.
func TestOpenPartRefusesAnotherOwner(t *testing.T) {
	part := filepath.Join(t.TempDir(), "b.part")
	if err := os.WriteFile(part, []byte("theirs"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(part, 65534, 65534); err != nil {
		t.Fatalf("giving the file to user nobody (the test needs root): %v", err)
	}
	if _, err := OpenPart(part, 0o600); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("OpenPart of nobody's file: %v", err)
	}
}

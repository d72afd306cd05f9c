//go:build unix

package state

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestEnsurePublicRefusesAnotherOwner: a public folder someone else made
// first (in a folder anyone may write to) is not used: they could swap its
// files for links to the agent's.
func TestEnsurePublicRefusesAnotherOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	pub := PublicDir(dir)
	if err := os.Mkdir(pub, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pub, 65534, 65534); err != nil {
		t.Fatalf("giving the folder to user nobody (the test needs root): %v", err)
	}
	if _, err := EnsurePublic(dir); err == nil || !strings.Contains(err.Error(), "belongs to user 65534") {
		t.Fatalf("EnsurePublic with a folder of nobody's: %v", err)
	}
	// And the umask does not decide the mode.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir = filepath.Join(t.TempDir(), "state")
	if pub, err := EnsurePublic(dir); err != nil {
		t.Fatal(err)
	} else if fi, _ := os.Stat(pub); fi.Mode().Perm() != 0o755 {
		t.Fatalf("public folder mode %v under umask 077", fi.Mode().Perm())
	}
}

//go:build unix

package state

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaveRestrictsAnExistingDir: enrolling into a state dir that was
// there already, 0755, leaves it 0700 (the certificate and the spool are
// for the agent only); one another account owns is refused.
func TestSaveRestrictsAnExistingDir(t *testing.T) {
	_, cert, key, ca := identityFiles(t)
	der := func(b []byte) []byte { p, _ := pem.Decode(b); return p.Bytes }
	dir := filepath.Join(t.TempDir(), "sonde-agent")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask made of it
	if err := Save(dir, Config{AgentID: "a"}, key, der(cert), der(ca)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir after enrolling: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}

	if os.Geteuid() != 0 {
		return // giving a folder to another account takes root
	}
	theirs := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(theirs, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := Save(theirs, Config{AgentID: "a"}, key, der(cert), der(ca))
	if err == nil || !strings.Contains(err.Error(), "belongs to user 65534") {
		t.Fatalf("Save into nobody's folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(theirs, keyFile)); !os.IsNotExist(err) {
		t.Fatalf("the key was written into nobody's folder: %v", err)
	}
}

package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotOutputRefusesALink: `snapshot -o FILE` run as root must not
// write through a link another user planted at FILE (in /tmp, say): the
// link's target keeps its content and the command says why it stopped.
func TestSnapshotOutputRefusesALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("root's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"snapshot", "--state", t.TempDir(), "--probes", "time", "-o", out}
	if code := Main(t.Context(), args, &stdout, &stderr); code == 0 {
		t.Fatal("snapshot -o onto a link succeeded")
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's file" {
		t.Fatalf("the link's target was overwritten: %.60q", b)
	}
	if !strings.Contains(stderr.String(), "symbolic link") {
		t.Errorf("the error does not say why: %s", stderr.String())
	}

	// A plain path is written, mode 0600, and holds the snapshot.
	plain := filepath.Join(dir, "y")
	args[len(args)-1] = plain
	if code := Main(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(plain)
	if err != nil || !json.Valid(b) {
		t.Fatalf("%v: %.60q", err, b)
	}
	if fi, _ := os.Stat(plain); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

package state

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestPublicDir(t *testing.T) {
	for dir, want := range map[string]string{
		"/var/lib/sonde-agent":  "/var/lib/sonde-agent-public",
		"/var/lib/sonde-agent/": "/var/lib/sonde-agent-public",
	} {
		if runtime.GOOS == "windows" {
			break
		}
		if got := PublicDir(dir); got != want {
			t.Errorf("PublicDir(%q) = %q, want %q", dir, got, want)
		}
	}
	if got := PublicDir("rel"); !filepath.IsAbs(got) || filepath.Base(got) != "rel-public" {
		t.Errorf("PublicDir(rel) = %q", got)
	}
}

// TestEnsurePublic: the public folder is made beside the state dir,
// readable by all, and the state dir keeps its 0700; a folder that is not
// a plain folder is refused.
func TestEnsurePublic(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "lib", "sonde-agent")
	_, cert, key, ca := identityFiles(t)
	der := func(b []byte) []byte { p, _ := pem.Decode(b); return p.Bytes }
	if err := Save(dir, Config{AgentID: "a"}, key, der(cert), der(ca)); err != nil {
		t.Fatal(err)
	}
	pub, err := EnsurePublic(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pub != dir+"-public" {
		t.Errorf("public folder %s", pub)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{filepath.Dir(dir): 0o755, dir: 0o700, pub: 0o755} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode().Perm(), want)
			}
		}
		// A mode changed by hand is set back.
		os.Chmod(pub, 0o700)
		if _, err := EnsurePublic(dir); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(pub); fi.Mode().Perm() != 0o755 {
			t.Errorf("public folder mode %v after EnsurePublic", fi.Mode().Perm())
		}
	}
	// Again: no error.
	if _, err := EnsurePublic(dir); err != nil {
		t.Fatal(err)
	}

	other := filepath.Join(root, "elsewhere")
	os.Mkdir(other, 0o755)
	link := filepath.Join(root, "linked")
	if err := os.Symlink(other, link+"-public"); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if _, err := EnsurePublic(link); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("a symlink as the public folder: %v", err)
	}
}

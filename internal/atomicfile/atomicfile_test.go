package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// planted makes a file "victim" holding "secret" and a link to it at
// "out" in a new folder, as another user would in /tmp, and returns both
// paths.
func planted(t *testing.T) (out, victim string) {
	t.Helper()
	dir := t.TempDir()
	victim = filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "out")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	return out, victim
}

// untouched fails t unless victim still holds "secret".
func untouched(t *testing.T, victim string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != "secret" {
		t.Fatalf("the link's target was written: %q, %v", b, err)
	}
}

func TestWriteRefusesALinkAtThePath(t *testing.T) {
	out, victim := planted(t)
	err := Write(out, []byte("mine"), 0o644)
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Write through a link: %v, want ErrNotRegular", err)
	}
	untouched(t, victim)
	if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link itself was replaced: %v", err)
	}
}

// TestWriteIgnoresAPlantedTempName: the temporary file is new (O_EXCL),
// not a fixed name beside the path that a link could sit at.
func TestWriteIgnoresAPlantedTempName(t *testing.T) {
	out, victim := planted(t)
	os.Remove(out)
	for _, name := range []string{out + ".tmp", out + ".part"} {
		if err := os.Symlink(victim, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(out, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	untouched(t, victim)
	if b, _ := os.ReadFile(out); string(b) != "mine" {
		t.Fatalf("out holds %q", b)
	}
	if fi, _ := os.Stat(out); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriteRefusesAFolder(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, []byte("x"), 0o600); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Write over a folder: %v", err)
	}
}

func TestCreateReplacesAFileAndCloseDrops(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Create(out, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	f.Close() // not committed: the old content stays, no temporary file
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Fatalf("an uncommitted file replaced the old: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	f, err = Create(out, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("new")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "new" {
		t.Fatalf("out holds %q", b)
	}
}

func TestOpenPartRefusesALink(t *testing.T) {
	out, victim := planted(t)
	if _, err := OpenPart(out, 0o600); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("OpenPart through a link: %v", err)
	}
	untouched(t, victim)
	// A partial file of our own is appended to.
	part := filepath.Join(t.TempDir(), "b.part")
	for _, s := range []string{"ab", "cd"} {
		f, err := OpenPart(part, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	if b, _ := os.ReadFile(part); string(b) != "abcd" {
		t.Fatalf("part holds %q", b)
	}
}

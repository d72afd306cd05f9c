package probe

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountWatch: a mount table is read again exactly when a mount or an
// unmount happened since. It runs in a mount namespace of its own, private,
// on a locked thread (the thread goes back to the test's namespace after),
// where it mounts a tmpfs and unmounts it.
func TestMountWatch(t *testing.T) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening this thread's mount namespace: %w", err)
			return
		}
		defer unix.Close(self)
		// A thread shares its file system attributes with the process;
		// unsharing them first lets it enter a mount namespace alone.
		if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("a mount namespace of its own (root needed): %w", err)
			return // stay locked: the thread ends with the goroutine
		}
		err = mountWatchSteps(t, t.TempDir())
		if serr := unix.Setns(self, unix.CLONE_NEWNS); serr != nil {
			errc <- fmt.Errorf("back to the test's mount namespace: %v (steps: %v)", serr, err)
			return // stay locked
		}
		errc <- err // the thread's file system attributes stay its own: it ends locked
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func mountWatchSteps(t *testing.T, dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the namespace's mounts private: %w", err)
	}
	var w mountWatch
	defer w.close()
	read := func(step string, wantChanged, wantMounted bool) error {
		b, changed, err := w.read("/proc/thread-self/mountinfo")
		if err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
		if changed != wantChanged || bytes.Contains(b, []byte(" "+dir+" ")) != wantMounted {
			t.Errorf("%s: changed %v, %s mounted %v; want %v, %v", step, changed, dir, !wantMounted, wantChanged, wantMounted)
		}
		return nil
	}
	steps := []struct {
		name                 string
		do                   func() error
		changed, mountedThen bool
	}{
		{"first", nil, true, false},
		{"again", nil, false, false},
		{"after a mount", func() error { return unix.Mount("sonde-test", dir, "tmpfs", 0, "size=64k") }, true, true},
		{"again", nil, false, true},
		{"after the unmount", func() error { return unix.Unmount(dir, 0) }, true, false},
		{"again", nil, false, false},
	}
	for _, s := range steps {
		if s.do != nil {
			if err := s.do(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		if err := read(s.name, s.changed, s.mountedThen); err != nil {
			return err
		}
	}
	return nil
}

// TestMountWatchFile: a file that is not procfs's (a fixture) is read at
// every call, and at most maxMountTable bytes of it.
func TestMountWatchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mountinfo")
	var w mountWatch
	for i, content := range [][]byte{[]byte("one\n"), []byte("two\n"), bytes.Repeat([]byte("x"), maxMountTable+100)} {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		b, changed, err := w.read(path)
		want := content[:min(len(content), maxMountTable)]
		if err != nil || !changed || !bytes.Equal(b, want) {
			t.Fatalf("read %d: %d bytes, changed %v, %v; want %d bytes, changed", i+1, len(b), changed, err, len(want))
		}
		if w.open {
			t.Fatalf("read %d: a fixture's file kept open", i+1)
		}
	}
}

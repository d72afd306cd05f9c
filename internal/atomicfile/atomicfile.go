// Package atomicfile writes files so that a crash leaves either the old
// content or the new, never half of one, and so that nothing planted at
// the path is followed: the agent runs as root and the CLIs write where
// their user says (-o FILE), often in a folder anyone may write to (/tmp),
// where another user could have left a symbolic link to a file of root's.
//
// A file is written into a new temporary file beside its path, created
// with O_EXCL (so no name planted there is opened), then renamed over the
// path, which replaces a directory entry and never writes through a link.
// A path that holds a symbolic link, or anything but a regular file, is
// refused with an error that says so, rather than silently replaced.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNotRegular is wrapped by the errors for a path that holds a symbolic
// link or something other than a regular file.
var ErrNotRegular = errors.New("not a regular file")

// File is a file being written for a path: a temporary file beside it,
// which Commit puts in place.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts the file for path, with mode perm whatever the umask. It
// refuses a path that holds a link or anything but a regular file. Write
// to it, then Commit; Close without Commit removes it.
func Create(path string, perm os.FileMode) (*File, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	// CreateTemp opens with O_EXCL and a fresh random name, mode 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	f := &File{File: tmp, path: path}
	if perm != 0o600 && runtime.GOOS != "windows" { // on Windows the folder's access list decides
		if err := tmp.Chmod(perm); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return f, nil
}

// Commit syncs the file and renames it over its path, checked again just
// before: a link planted there meanwhile is refused, and the rename would
// replace it, not follow it.
func (f *File) Commit() error {
	err := f.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = Check(f.path)
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
		f.done = true
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	f.done = true
	return nil
}

// Close drops a file not committed; after Commit it does nothing.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	err := f.File.Close()
	os.Remove(f.Name())
	if err != nil {
		return fmt.Errorf("dropping the unfinished %s: %w", f.path, err)
	}
	return nil
}

// Write writes data to path through Create and Commit. Its errors name path.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.File.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// Check returns nil when path is free to be written: it does not exist or
// is a regular file. A symbolic link there (not followed) or a folder,
// device or pipe is refused with an error wrapping ErrNotRegular.
func Check(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("writing %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("writing %s: it is a symbolic link, which is not followed: remove it or choose another path: %w", path, ErrNotRegular)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("writing %s: it is a %s: choose another path: %w", path, kind(fi.Mode()), ErrNotRegular)
	}
	return nil
}

// kind names a file type for an error.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// OpenPart opens path to append to a partial file kept between runs (a
// download to resume), creating it with mode perm if it is missing. As
// with Create, a link there is not followed and anything but a regular
// file is refused; so is a file another account owns, which could have
// been planted to be appended to. Rename it into place once complete
// (Rename).
func OpenPart(path string, perm os.FileMode) (*os.File, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|noFollow, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err == nil && (!fi.Mode().IsRegular() || !ownedByUs(fi)) {
		err = fmt.Errorf("it is not a regular file of this account's: remove it: %w", ErrNotRegular)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return f, nil
}

// Rename moves the finished file from into place at to, refusing a to
// that holds a link or anything but a regular file (see Check).
func Rename(from, to string) error {
	if err := Check(to); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("writing %s: %w", to, err)
	}
	return nil
}

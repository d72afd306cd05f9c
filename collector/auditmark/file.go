package auditmark

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNone means no checkpoint has been written yet.
var ErrNone = errors.New("no audit checkpoint yet")

// File is a checkpoint file and the public key its checkpoints must be
// signed with.
type File struct {
	Path string
	// Key verifies the checkpoints; nil accepts the key each one carries.
	Key ed25519.PublicKey
}

// Latest returns the newest checkpoint in the file, ErrNone when there is
// none. A checkpoint that does not verify with f.Key comes back with an
// error wrapping ErrSignature, so that it can be shown.
func (f File) Latest() (Checkpoint, error) {
	c, err := ReadLatest(f.Path)
	if err != nil {
		return c, err
	}
	return c, c.Verify(f.Key)
}

// Append adds c as the last line of the file at path, creating it, and
// syncs it to disk before it returns.
func Append(path string, c Checkpoint) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit checkpoint file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit checkpoint file: %w", err)
	}
	line := append(c.Encode(), '\n')
	if fi.Size() > 0 {
		// A line cut short by a crash would swallow the next one: end it.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return fmt.Errorf("audit checkpoint file: %w", err)
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("audit checkpoint file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit checkpoint file: %w", err)
	}
	if fi.Size() == 0 {
		// A new file's directory entry must reach the disk too.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit checkpoint file: %w", err)
	}
	return nil
}

// ReadLatest returns the last complete checkpoint line of the file at
// path, ErrNone when the file is missing or holds none. It reads only the
// file's tail, at most 2*MaxLine+2 bytes, however long the file grew.
func ReadLatest(path string) (Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, ErrNone
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("reading the audit checkpoint file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Checkpoint{}, fmt.Errorf("reading the audit checkpoint file: %w", err)
	}
	off := max(fi.Size()-(2*MaxLine+2), 0)
	tail := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return Checkpoint{}, fmt.Errorf("reading the audit checkpoint file: %w", err)
	}
	c, err := decodeTail(tail, off == 0)
	if err != nil && !errors.Is(err, ErrNone) {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, err
}

// decodeTail decodes the last complete line of tail, the end of a
// checkpoint file (all of it when whole). A last line without its newline
// was cut short by a crash while it was written: it is not a checkpoint.
func decodeTail(tail []byte, whole bool) (Checkpoint, error) {
	end := bytes.LastIndexByte(tail, '\n')
	if end < 0 {
		if whole {
			return Checkpoint{}, ErrNone
		}
		return Checkpoint{}, fmt.Errorf("audit checkpoint: last line longer than %d bytes", MaxLine)
	}
	start := bytes.LastIndexByte(tail[:end], '\n') + 1
	if start == 0 && !whole {
		return Checkpoint{}, fmt.Errorf("audit checkpoint: last line longer than %d bytes", MaxLine)
	}
	line := tail[start:end]
	if len(bytes.TrimSpace(line)) == 0 {
		return Checkpoint{}, errors.New("audit checkpoint: the last line is empty")
	}
	return Decode(line)
}

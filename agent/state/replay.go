package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// replayFile holds the latest expiry of a snapshot request the agent
// accepted (see protocol.Verifier's Floor and Keep): 8 bytes of Unix
// milliseconds, big-endian, and their complement, so that a file cut
// short or garbled is told from a mark.
const replayFile = "replay-mark"

// ErrReplayMarkBroken is returned by LoadReplayMark for a mark that is not
// one: the caller refuses what it cannot rule out instead (see
// LoadReplayMark).
var ErrReplayMarkBroken = errors.New("the replay mark is damaged")

// LoadReplayMark returns the latest expiry of a request the agent in dir
// accepted, written by SaveReplayMark; the zero time if none was ever
// written (an agent that never accepted a request, or one from before the
// mark existed). A mark that cannot be read wraps ErrReplayMarkBroken or
// the read's error: then the agent cannot tell which requests it accepted,
// and refuses any that may have lived before it started.
func LoadReplayMark(dir string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(dir, replayFile))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the replay mark: %w", err)
	}
	if len(b) != 16 || binary.BigEndian.Uint64(b) != ^binary.BigEndian.Uint64(b[8:]) {
		return time.Time{}, fmt.Errorf("%w: %s holds %d bytes that are not a mark", ErrReplayMarkBroken, filepath.Join(dir, replayFile), len(b))
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b))), nil
}

// SaveReplayMark records t as the latest expiry of a request the agent in
// dir accepted, durably, before the agent serves it. It overwrites the 16
// bytes in place rather than writing a new file and renaming it: a full
// disk must not stop the agent from answering, and one sector is written
// whole or not at all.
func SaveReplayMark(dir string, t time.Time) error {
	path := filepath.Join(dir, replayFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("writing the replay mark: %w", err)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixMilli()))
	binary.BigEndian.PutUint64(b[8:], ^uint64(t.UnixMilli()))
	_, err = f.WriteAt(b[:], 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the replay mark %s: %w", path, err)
	}
	return nil
}

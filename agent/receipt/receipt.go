// Package receipt keeps the end user's record of what the agent collected
// and sent: every snapshot, when, which probes, for which ticket and to
// which collector. It lives in the state dir's public folder (see
// state.PublicDir), which every local user may read, so that the person at
// the keyboard can see what left their machine with `sonde-agent receipts`,
// without being root.
//
// A receipt holds no secret, so it may be public: it records what was
// sent, never the snapshot itself (no probe data, so nothing the redact
// rules would have to scrub), and its fields are the collector's address
// (which the agent shows in its logs and check), the collector-made request
// and ticket IDs (protocol.ValidID: letters, digits, - _ .; a request ID
// is useless without the collector's signature), probe names, and the
// error that kept a snapshot from being delivered, which comes from the
// network or the collector. TestReceiptFieldsArePublic makes a new field
// stop for this question.
package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/limitfile"
)

// File is the receipts file in its folder; File+".1" holds the previous
// one once it grows past MaxSize. Mode lets every local user read them.
const (
	File    = "receipts.log"
	MaxSize = 1 << 20
	Mode    = 0o644
)

// Receipt is one collection.
type Receipt struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // requested, periodic or local
	RequestID string    `json:"request_id,omitempty"`
	Ticket    string    `json:"ticket,omitempty"`
	Probes    []string  `json:"probes"`
	Collector string    `json:"collector,omitempty"`
	// Sent is how much of the snapshot left the machine, from what the
	// agent wrote (SentAll, SentPart, SentNone; empty in receipts written
	// before it was recorded).
	Sent string `json:"sent,omitempty"`
	// Delivered is whether the collector acknowledged the snapshot.
	Delivered bool `json:"delivered"`
	// Error says why it was not delivered, in the agent's words (see
	// Record); text from the network in it is quoted and bounded.
	Error string `json:"error,omitempty"`
}

// Log appends receipts to the file in Dir, the public folder.
type Log struct {
	Dir string
	mu  sync.Mutex
}

// Add appends r, rotating the file when it is full.
func (l *Log) Add(r Receipt) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("logging a receipt: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	path := filepath.Join(l.Dir, File)
	var folded error
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(b)) > MaxSize {
		// The receipts rotated out go to the summary first; if they
		// cannot, the log grows past its size rather than lose them.
		if folded = fold(l.Dir, path+".1"); folded == nil {
			if err := os.Rename(path, path+".1"); err != nil {
				return fmt.Errorf("logging a receipt: rotating the log: %w", err)
			}
		}
	}
	// Not through a link, nor into a file another account owns.
	f, err := atomicfile.OpenPart(path, Mode)
	if err != nil {
		return fmt.Errorf("logging a receipt: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 && fi.Mode().Perm() != Mode && runtime.GOOS != "windows" {
		// A new file: give it its mode whatever the umask made of it.
		// (On Windows the folder's access list does this.)
		f.Chmod(Mode)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logging a receipt: %w", err)
	}
	if folded != nil {
		return fmt.Errorf("logged a receipt, but did not rotate the log: %w", folded)
	}
	return nil
}

// Read returns the newest receipts in dirs, at most limit, oldest first:
// the files of each dir in turn, so older dirs go first. Lines that cannot
// be read are skipped; missing files are no error.
func Read(limit int, dirs ...string) ([]Receipt, error) {
	var out []Receipt
	for _, name := range names(dirs) {
		// Rotation keeps each file near MaxSize; a file far larger was not
		// written by the agent, and is refused rather than read whole.
		b, err := limitfile.Read(name, 4*MaxSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading receipts: %w", err)
		}
		out = append(out, parse(b)...)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// parse reads the receipts of a file's content. The whole file is in
// memory: it is split without a line length limit, so that one overlong
// line hides no receipt after it; lines that are not receipts are skipped.
func parse(b []byte) []Receipt {
	var out []Receipt
	for line := range bytes.Lines(b) {
		var r Receipt
		if json.Unmarshal(line, &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// names lists the receipts files in dirs, oldest first.
func names(dirs []string) []string {
	var out []string
	for _, dir := range dirs {
		out = append(out, filepath.Join(dir, File+".1"), filepath.Join(dir, File))
	}
	return out
}

// Migrate moves the receipts that agents before the public folder kept in
// the state dir from into the public folder to, where the person at the
// machine can read them. A file already in to is left alone and from's is
// kept (Read reads both); a crash halfway leaves both copies, and the next
// Migrate removes from's once it sees they are the same.
func Migrate(from, to string) error {
	for _, name := range []string{File + ".1", File} {
		src, dst := filepath.Join(from, name), filepath.Join(to, name)
		b, err := limitfile.Read(src, 4*MaxSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("moving receipts: %w", err)
		}
		// Copy rather than rename: the copy takes the public folder's
		// access (on Windows a moved file keeps its own), and the two
		// folders need not share a file system.
		switch have, err := os.ReadFile(dst); {
		case errors.Is(err, os.ErrNotExist):
			if err := writePublic(dst, b); err != nil {
				return fmt.Errorf("moving receipts: %w", err)
			}
		case err != nil:
			return fmt.Errorf("moving receipts: %w", err)
		case !bytes.Equal(have, b):
			continue
		}
		if err := os.Remove(src); err != nil {
			return fmt.Errorf("moving receipts: %w", err)
		}
	}
	return nil
}

// writePublic writes b to the file at path in the public folder, readable
// by every local user (Mode) whatever the umask made of it; on Windows the
// folder's access list does this.
func writePublic(path string, b []byte) error {
	if err := atomicfile.Write(path, b, Mode); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, Mode); err != nil {
			return fmt.Errorf("setting its mode: %w", err)
		}
	}
	return nil
}

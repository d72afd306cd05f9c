// Package receipt keeps the end user's record of what the agent collected
// and sent: every snapshot, when, which probes, for which ticket and to
// which collector. It lives in the state dir, readable with
// `sonde-agent receipts`, so the person at the keyboard can see what left
// their machine.
package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sync"
	"time"

	"github.com/sondehq/sonde/internal/limitfile"
)

// File is the receipts file in the state dir; File+".1" holds the previous
// one once it grows past MaxSize.
const (
	File    = "receipts.log"
	MaxSize = 1 << 20
)

// Receipt is one collection.
type Receipt struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // requested, periodic or local
	RequestID string    `json:"request_id,omitempty"`
	Ticket    string    `json:"ticket,omitempty"`
	Probes    []string  `json:"probes"`
	Collector string    `json:"collector,omitempty"`
	// Delivered is whether the collector acknowledged the snapshot.
	Delivered bool   `json:"delivered"`
	Error     string `json:"error,omitempty"`
}

// Log appends receipts to a state dir's file.
type Log struct {
	Dir string
	mu  sync.Mutex
}

// Add appends r, rotating the file when it is full.
func (l *Log) Add(r Receipt) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	path := filepath.Join(l.Dir, File)
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(b)) > MaxSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Read returns the newest receipts, at most limit, oldest first. Lines that
// cannot be read are skipped.
func Read(dir string, limit int) ([]Receipt, error) {
	var out []Receipt
	for _, name := range []string{File + ".1", File} {
		// Rotation keeps each file near MaxSize; a file far larger was not
		// written by the agent, and is refused rather than read whole.
		b, err := limitfile.Read(filepath.Join(dir, name), 4*MaxSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading receipts: %w", err)
		}
		// The whole file is in memory: split it without a line length
		// limit, so that one overlong line hides no receipt after it.
		for line := range bytes.Lines(b) {
			var r Receipt
			if json.Unmarshal(line, &r) == nil {
				out = append(out, r)
			}
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

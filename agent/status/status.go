// Package status keeps the running agent's connection state in a small
// file in the public folder (see state.PublicDir), so that
// `sonde-agent status` can tell anyone at the machine whether the agent is
// connected, without root and without asking the agent. The agent writes
// it when the state changes, never on a timer.
package status

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/limitfile"
)

// File is the status file in the public folder; Mode lets every local user
// read it.
const (
	File = "status.json"
	Mode = 0o644
)

// maxSize bounds what Read accepts: the file is a few hundred bytes.
const maxSize = 64 << 10

// Status is the agent's connection state. Like the receipts, it holds
// nothing secret: the collector's address, the transport, times, and the
// error that keeps the agent from connecting (from the network or the
// collector).
type Status struct {
	// PID is the agent's process, so a reader can tell a file that a
	// stopped agent left behind.
	PID     int       `json:"pid"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"` // when the agent process started
	// Collector is where the agent connects, HOST:PORT.
	Collector string `json:"collector"`
	Connected bool   `json:"connected"`
	// Transport is how the connection runs ("QUIC", or "TCP" where UDP
	// is blocked), while connected.
	Transport string `json:"transport,omitempty"`
	// Since is when the agent connected, or when it lost the connection
	// (or started without one).
	Since time.Time `json:"since"`
	// Error is why the agent is not connected; empty while it connects
	// for the first time.
	Error string `json:"error,omitempty"`
	// Stopped is set by an agent that stopped on its own.
	Stopped bool `json:"stopped,omitempty"`
	// Updated is when the file was written.
	Updated time.Time `json:"updated"`
}

// Write replaces the status file in dir with s, all at once: a reader sees
// the old state or the new.
func Write(dir string, s *Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the status file: %w", err)
	}
	path := filepath.Join(dir, File)
	if err := atomicfile.Write(path, append(b, '\n'), Mode); err != nil {
		return fmt.Errorf("writing the status file: %w", err)
	}
	if runtime.GOOS != "windows" {
		// Whatever the umask made of it; on Windows the folder's access
		// list does this.
		if err := os.Chmod(path, Mode); err != nil {
			return fmt.Errorf("writing the status file: %w", err)
		}
	}
	return nil
}

// Read returns the status in dir. A missing file is os.ErrNotExist
// (wrapped).
func Read(dir string) (*Status, error) {
	b, err := limitfile.Read(filepath.Join(dir, File), maxSize)
	if err != nil {
		return nil, fmt.Errorf("reading the status file: %w", err)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading the status file: %w", err)
	}
	return &s, nil
}

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/limitfile"
)

// restartFile holds why the agent ended a run for the service manager to
// start it again (its memory stayed above its ceiling), until the next
// start reads it: one line of the agent's own words.
const restartFile = "restarted-for"

// maxRestartNote bounds the note.
const maxRestartNote = 512

// SaveRestart records why the agent in dir is ending for the service
// manager to start it again.
func SaveRestart(dir, why string) error {
	why = strings.ReplaceAll(why, "\n", " ")
	if len(why) > maxRestartNote {
		why = why[:maxRestartNote]
	}
	if err := atomicfile.Write(filepath.Join(dir, restartFile), []byte(why+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording why the agent restarts: %w", err)
	}
	return nil
}

// TakeRestart returns what SaveRestart recorded in dir and removes it: ""
// when the previous run ended otherwise.
func TakeRestart(dir string) (string, error) {
	path := filepath.Join(dir, restartFile)
	b, err := limitfile.Read(path, maxRestartNote+1)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading why the agent restarted: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return "", fmt.Errorf("reading why the agent restarted: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// The public folder. The state dir is readable by root (SYSTEM and
// Administrators on Windows) only, since it holds the private key; what the
// person at the machine may read about the agent — the receipts of what
// left the machine and the connection status — lives in a folder of its own
// beside it, that every local user may read and only the agent may write.
// It sits beside the state dir, not in it, so that the state dir keeps its
// layout and its 0700 mode: a folder inside a 0700 one is out of reach
// whatever its own mode. Nothing secret may go there.

// PublicDir returns the public folder of the state dir dir: the same path
// with "-public" added (/var/lib/sonde-agent-public by default).
func PublicDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Clean(dir) + "-public"
}

// SystemDir is the state dir of the agent installed as a system service.
func SystemDir() string {
	switch runtime.GOOS {
	case "windows":
		if p := os.Getenv("ProgramData"); p != "" {
			return filepath.Join(p, "Sonde", "agent")
		}
		return `C:\ProgramData\Sonde\agent`
	case "darwin":
		return "/Library/Application Support/Sonde/agent"
	}
	return "/var/lib/sonde-agent"
}

// EnsurePublic makes the public folder of the state dir dir, readable by
// every local user and writable by the agent's account only, and returns
// its path. A folder already there that another account owns, or that is
// not a plain folder, is refused: the agent would write into a folder
// someone else controls.
func EnsurePublic(dir string) (string, error) {
	pub := PublicDir(dir)
	if err := os.MkdirAll(filepath.Dir(pub), 0o755); err != nil {
		return "", fmt.Errorf("public folder: %w", err)
	}
	if err := os.Mkdir(pub, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("public folder: %w", err)
	}
	fi, err := os.Lstat(pub)
	if err != nil {
		return "", fmt.Errorf("public folder: %w", err)
	}
	if fi.Mode().Type() != fs.ModeDir {
		return "", fmt.Errorf("public folder %s is not a folder (%s): remove it", pub, fi.Mode().Type())
	}
	if err := publish(pub, fi); err != nil {
		return "", err
	}
	if v := vendorDir(); v != "" && filepath.Clean(dir) == SystemDir() {
		if err := letThrough(v); err != nil {
			return "", fmt.Errorf("public folder: %w", err)
		}
	}
	return pub, nil
}

// vendorDir is the folder of Sonde's own that holds the system state dir
// and its public folder, where there is one: on macOS,
// /Library/Application Support/Sonde, which agents before the public folder
// created 0700 along with the state dir.
func vendorDir() string {
	if runtime.GOOS == "darwin" {
		return filepath.Dir(SystemDir())
	}
	return ""
}

// letThrough lets every user pass through dir (search, not list), so the
// public folder in it can be reached. It holds only the state dir, which
// keeps its own 0700, and the public folder.
func letThrough(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("letting every user through %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o011 == 0o011 {
		return nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()|0o011); err != nil {
		return fmt.Errorf("letting every user through %s: %w", dir, err)
	}
	return nil
}

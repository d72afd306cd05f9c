//go:build unix

package state

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// publish makes the public folder pub, found as fi, readable by everyone
// and writable by its owner only, which must be the agent's account.
func publish(pub string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("public folder %s belongs to user %d, not to the agent's account (%d): remove it", pub, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm() != 0o755 {
		// Set the mode whatever the umask made of Mkdir's.
		if err := os.Chmod(pub, 0o755); err != nil {
			return fmt.Errorf("public folder: %w", err)
		}
	}
	return nil
}

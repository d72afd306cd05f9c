//go:build !windows

package state

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// restrict gives the state dir mode 0700, whatever it had: a folder that
// was there before enrolling (made by hand, by a package, or by an older
// agent) keeps its mode through MkdirAll, and 0755 would let every local
// user read the certificate and list the spool. A folder, or a link to
// one, that another account owns is refused: its owner could open it
// again, or swap the files the agent is about to write.
func restrict(dir string) error {
	li, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("restricting the state dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("restricting the state dir: %w", err)
	}
	for _, i := range []fs.FileInfo{li, fi} {
		if st, ok := i.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("state dir %s belongs to user %d, not to the agent's account (%d): remove it or give it to that account", dir, st.Uid, os.Geteuid())
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("state dir %s is not a folder", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restricting the state dir: %w", err)
		}
	}
	return nil
}

//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"syscall"
)

// noFollow makes an open fail on a symbolic link at the last component.
const noFollow = syscall.O_NOFOLLOW

// ownedByUs reports whether fi belongs to the account this runs as.
func ownedByUs(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

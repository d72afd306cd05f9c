//go:build unix

package probe

import (
	"io/fs"
	"syscall"
)

// fileSizeKind: on Unix a file's size is the blocks it holds (st_blocks,
// in 512-byte units whatever the file system's block size), as du counts:
// a sparse file takes less, a folder of many names more.
const fileSizeKind = "allocated"

func fileSize(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks > 0 {
		return uint64(st.Blocks) * 512
	}
	return 0
}

// fileDevice is st_dev: a folder on another device has another file
// system mounted there.
func fileDevice(_ string, fi fs.FileInfo) (uint64, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), true // int32 on macOS, uint64 on Linux
	}
	return 0, false
}

// remoteVolume: Unix names network file systems by their type (see
// networkFstypes).
func remoteVolume(string) bool { return false }

//go:build linux

package hostile

import (
	"os"
	"syscall"
)

// blocks is the number of 512-byte blocks a file takes on disk.
func blocks(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks
	}
	return (info.Size() + 511) / 512
}

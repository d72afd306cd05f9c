//go:build !linux

package probe

import "os"

// withProcFile calls fn with the content of a file. Elsewhere than Linux
// the /proc fast path has nothing to gain.
func withProcFile(path string, fn func(b []byte) error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return fn(b)
}

// fdDirCount is Linux's: elsewhere there is no /proc/<pid>/fd to count.
func fdDirCount(string) (int, bool) { return 0, false }

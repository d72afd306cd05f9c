//go:build !linux

package probe

import "io"

// openKmsg: only Linux has /dev/kmsg.
func openKmsg(string) (io.ReadCloser, error) {
	return nil, notAvailable("no kernel log device (/dev/kmsg)")
}

package probe

import (
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// kmsgFile reads the kernel log with bare system calls: os.File would
// hand the non-blocking descriptor to the network poller, which turns
// "no more records" (EAGAIN) into waiting for the next one.
type kmsgFile struct{ fd int }

// openKmsg opens the kernel log (or a fixture file standing in for it)
// for reading without blocking, from its oldest record.
func openKmsg(path string) (io.ReadCloser, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &kmsgFile{fd}, nil
}

// Read returns one record from the device (any bytes from a file) and
// io.EOF once there is nothing more to read now.
func (k *kmsgFile) Read(b []byte) (int, error) {
	for overwritten := 0; ; {
		n, err := unix.Read(k.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EPIPE && overwritten < 16:
			// Records were overwritten while we read; the next read
			// goes on from the oldest one left.
			overwritten++
			continue
		case err == unix.EAGAIN || err == nil && n == 0:
			return 0, io.EOF
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: "kmsg", Err: err}
		}
		return n, nil
	}
}

func (k *kmsgFile) Close() error {
	if err := unix.Close(k.fd); err != nil {
		return fmt.Errorf("closing the kernel log: %w", err)
	}
	return nil
}

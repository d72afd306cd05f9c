package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// netlinkRequest sends one request on a fresh netlink socket of protocol
// proto and returns the answer's bytes as the kernel sent them: with dump,
// every message up to NLMSG_DONE; without, the first datagram. It reads at
// most maxNetlinkDump bytes and then says truncated. The socket times out
// at ctx's deadline, and at two seconds at most: the kernel answers a dump
// at once or not at all.
func netlinkRequest(ctx context.Context, proto int, msgType, flags uint16, payload []byte, dump bool) (out []byte, truncated bool, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, false, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	wait := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Until(d), time.Millisecond))
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, false, fmt.Errorf("netlink socket timeout: %w", err)
	}
	req := make([]byte, 16+len(payload))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], msgType)
	binary.NativeEndian.PutUint16(req[6:], flags)
	binary.NativeEndian.PutUint32(req[8:], 1)
	copy(req[16:], payload)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, false, fmt.Errorf("netlink request: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, rflags, _, err := unix.Recvmsg(fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return out, false, fmt.Errorf("netlink answer: %w", err)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return out, false, fmt.Errorf("netlink answer: a message larger than %d bytes", len(buf))
		}
		if len(out)+n > maxNetlinkDump {
			return out, true, nil
		}
		out = append(out, buf[:n]...)
		if !dump || endsDump(buf[:n]) || n == 0 {
			return out, false, nil
		}
	}
}

// endsDump says whether a datagram holds the message that ends a dump.
func endsDump(b []byte) bool {
	for len(b) >= 16 {
		l := int(binary.NativeEndian.Uint32(b))
		if t := binary.NativeEndian.Uint16(b[4:]); t == nlmsgDone || t == nlmsgError {
			return true
		}
		if l < 16 || l > len(b) {
			return true // malformed: the parser says so
		}
		b = b[min(align4(l), len(b)):]
	}
	return false
}

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// This file parses netlink messages as a dump returns them, for the wifi
// probe (nl80211 over generic netlink) and the security probe (nftables
// over nfnetlink). It is platform-neutral, so tests feed it recorded
// bytes; the sockets are in netlink_linux.go. Netlink is in the host's
// byte order.

// Netlink message types and attribute flags (linux/netlink.h).
const (
	nlmsgError       = 2
	nlmsgDone        = 3
	nlaFNested       = 0x8000
	nlaFNetByteorder = 0x4000
	nlaTypeMask      = ^uint16(nlaFNested | nlaFNetByteorder)
)

// Bounds of what the parsers accept.
const (
	// maxNetlinkDump bounds the bytes of one dump the agent reads.
	maxNetlinkDump = 4 << 20
	// maxNetlinkMessages bounds the messages taken from one dump.
	maxNetlinkMessages = 20000
	// maxNetlinkAttrs bounds the attributes read at one level of a message.
	maxNetlinkAttrs = 1024
)

// nlMessage is one netlink message: its type and flags, and its payload
// after the 16-byte header.
type nlMessage struct {
	Type, Flags uint16
	Data        []byte
}

// errNetlinkTruncated says a dump had more messages than the parser takes.
var errNetlinkTruncated = errors.New("netlink dump cut at its limit")

// splitNetlink splits a dump's bytes into messages, up to NLMSG_DONE or the
// end of b. An NLMSG_ERROR with an error number ends it with that error (a
// syscall.Errno); one with 0 is an acknowledgement and ends it cleanly.
// More than max messages gives those and errNetlinkTruncated.
func splitNetlink(b []byte, max int) ([]nlMessage, error) {
	var out []nlMessage
	for len(b) > 0 {
		if len(b) < 16 {
			return out, fmt.Errorf("netlink: %d stray bytes after the last message", len(b))
		}
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < 16 || l > len(b) {
			return out, fmt.Errorf("netlink: message of %d bytes in %d", l, len(b))
		}
		m := nlMessage{Type: binary.NativeEndian.Uint16(b[4:]), Flags: binary.NativeEndian.Uint16(b[6:]), Data: b[16:l]}
		b = b[min(align4(l), len(b)):]
		switch m.Type {
		case nlmsgDone:
			return out, nil
		case nlmsgError:
			if len(m.Data) < 4 {
				return out, errors.New("netlink: short error message")
			}
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return out, fmt.Errorf("netlink: the kernel refused the request: %w", syscall.Errno(errno))
			}
			return out, nil
		}
		if len(out) == max {
			return out, errNetlinkTruncated
		}
		out = append(out, m)
	}
	return out, nil
}

// nlAttr is one netlink attribute: its type (without the nested and
// byte-order flags) and its value.
type nlAttr struct {
	Type uint16
	Data []byte
}

// parseAttrs parses the attributes that fill b, at most maxNetlinkAttrs.
func parseAttrs(b []byte) ([]nlAttr, error) {
	var out []nlAttr
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		if l < 4 || l > len(b) {
			return out, fmt.Errorf("netlink: attribute of %d bytes in %d", l, len(b))
		}
		if len(out) == maxNetlinkAttrs {
			return out, fmt.Errorf("netlink: more than %d attributes", maxNetlinkAttrs)
		}
		out = append(out, nlAttr{Type: binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask, Data: b[4:l]})
		b = b[min(align4(l), len(b)):]
	}
	if len(b) != 0 {
		return out, fmt.Errorf("netlink: %d stray bytes after the attributes", len(b))
	}
	return out, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// Attribute value decoders; each says whether the value had the right size.

func attrU8(a nlAttr) (uint8, bool) {
	if len(a.Data) < 1 {
		return 0, false
	}
	return a.Data[0], true
}

func attrU16(a nlAttr) (uint16, bool) {
	if len(a.Data) < 2 {
		return 0, false
	}
	return binary.NativeEndian.Uint16(a.Data), true
}

func attrU32(a nlAttr) (uint32, bool) {
	if len(a.Data) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(a.Data), true
}

// attrBE32 decodes a 32-bit value in network order (nftables' numbers).
func attrBE32(a nlAttr) (uint32, bool) {
	if len(a.Data) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(a.Data), true
}

// attrString decodes a NUL-terminated string.
func attrString(a nlAttr) string {
	s := a.Data
	for i, c := range s {
		if c == 0 {
			s = s[:i]
			break
		}
	}
	return string(s)
}

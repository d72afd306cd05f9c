package probe

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// hostOwnerSearch finds sockets' owners through /proc/<pid>/fd.
var hostOwnerSearch ownerSearch = findSocketOwners

// diagQueries are the sock_diag dumps that make up the sockets: TCP in
// LISTEN, UDP in CLOSE (bound, not connected), for both families, then TCP
// in ESTABLISHED.
var diagQueries = [...]struct {
	proto          string
	family, ipProt uint8
	states         uint32
	established    bool
}{
	{"tcp", unix.AF_INET, unix.IPPROTO_TCP, 1 << 10, false},
	{"tcp6", unix.AF_INET6, unix.IPPROTO_TCP, 1 << 10, false},
	{"udp", unix.AF_INET, unix.IPPROTO_UDP, 1 << 7, false},
	{"udp6", unix.AF_INET6, unix.IPPROTO_UDP, 1 << 7, false},
	{"tcp", unix.AF_INET, unix.IPPROTO_TCP, 1 << 1, true},
	{"tcp6", unix.AF_INET6, unix.IPPROTO_TCP, 1 << 1, true},
}

// Sizes of struct nlmsghdr, inet_diag_req_v2 and inet_diag_msg.
const (
	nlmsgHdrLen    = 16
	diagReqLen     = 56
	diagMsgLen     = 72
	diagRecvBufLen = 16 << 10
)

// diagSockets lists the listening TCP and bound UDP sockets, and the
// established TCP connections, through NETLINK_SOCK_DIAG. For a
// LISTEN-only dump the kernel walks just its listening hash, where reading
// /proc/net/tcp walks every bucket of the established hash as well: over a
// millisecond on a large machine, even an idle one. The ESTABLISHED dump
// walks that hash, but hands over binary records, not lines of text.
func diagSockets(listen, estab *sockList) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	var req [nlmsgHdrLen + diagReqLen]byte
	buf := make([]byte, diagRecvBufLen)
	for i, q := range diagQueries {
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		binary.NativeEndian.PutUint32(req[8:], uint32(i+1))
		req[16], req[17] = q.family, q.ipProt
		binary.NativeEndian.PutUint32(req[20:], q.states)
		if err := unix.Sendto(fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("sock_diag %s: %w", q.proto, err)
		}
		into := listen
		if q.established {
			into = estab
		}
		if err := diagReceive(fd, buf, q.proto, q.established, into); err != nil {
			return fmt.Errorf("sock_diag %s: %w", q.proto, err)
		}
	}
	return nil
}

// diagReceive reads one dump's answer up to NLMSG_DONE.
func diagReceive(fd int, buf []byte, proto string, established bool, into *sockList) error {
	for {
		n, _, flags, _, err := unix.Recvmsg(fd, buf, nil, 0)
		if err != nil {
			return fmt.Errorf("receiving the answer: %w", err)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("answer larger than %d bytes", len(buf))
		}
		for b := buf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return fmt.Errorf("malformed netlink message")
			}
			data := b[nlmsgHdrLen:l]
			switch binary.NativeEndian.Uint16(b[4:]) {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(data)); errno != 0 {
						return fmt.Errorf("the kernel refused the dump: %w", unix.Errno(errno))
					}
				}
				return nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(data) >= diagMsgLen {
					into.add(diagSocket(proto, data, established))
				}
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}

// diagSocket decodes an inet_diag_msg: family, state, timer, retrans,
// then the socket id (ports and addresses in network order), expires,
// queues, uid and inode.
func diagSocket(proto string, m []byte, established bool) sockEntry {
	var local, remote netip.Addr
	if m[0] == unix.AF_INET {
		local, remote = netip.AddrFrom4([4]byte(m[8:12])), netip.AddrFrom4([4]byte(m[24:28]))
	} else {
		local, remote = netip.AddrFrom16([16]byte(m[8:24])), netip.AddrFrom16([16]byte(m[24:40]))
	}
	e := sockEntry{
		proto:  proto,
		local:  netip.AddrPortFrom(local, binary.BigEndian.Uint16(m[4:])),
		uid:    binary.NativeEndian.Uint32(m[64:]),
		hasUID: true,
		inode:  uint64(binary.NativeEndian.Uint32(m[68:])),
	}
	if established {
		e.remote = netip.AddrPortFrom(remote, binary.BigEndian.Uint16(m[6:]))
	}
	return e
}

// rawFile reads a file with bare system calls: os.Open adds fcntl and
// epoll calls that cost more than reading a small /proc file does. Its
// errors are *fs.PathError, like an *os.File's.
type rawFile struct {
	fd   int
	path string
}

// openProcFile opens a file of the host's /proc or /etc for reading.
func openProcFile(path string) (io.ReadCloser, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return rawFile{fd: fd, path: path}, nil
	}
}

func (f rawFile) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f rawFile) Close() error {
	if err := unix.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// hostInterfaces lists the interfaces, then all their addresses in one
// netlink dump: Go's Interface.Addrs dumps every address of the machine
// once per interface.
func hostInterfaces() ([]NetworkInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("dumping links: %w", err)
	}
	out := make([]NetworkInterface, len(ifs))
	byIndex := make(map[uint32]*NetworkInterface, len(ifs))
	for i, ifi := range ifs {
		out[i] = NetworkInterface{Name: ifi.Name, Index: ifi.Index, MTU: ifi.MTU, MAC: ifi.HardwareAddr.String()}
		if ifi.Flags != 0 {
			out[i].Flags = strings.Split(ifi.Flags.String(), "|")
		}
		byIndex[uint32(ifi.Index)] = &out[i]
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("dumping addresses: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("dumping addresses: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ni := byIndex[binary.NativeEndian.Uint32(m.Data[4:])]
		if ni == nil {
			continue
		}
		if p, ok := ifAddr(m); ok {
			ni.Addrs = append(ni.Addrs, p.String())
		}
	}
	return out, nil
}

// ifAddr decodes an ifaddrmsg as Go's net package does: IFA_LOCAL, when
// present, is the interface's own address (the two differ on
// point-to-point links), else IFA_ADDRESS.
func ifAddr(m *syscall.NetlinkMessage) (netip.Prefix, bool) {
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return netip.Prefix{}, false
	}
	var value []byte
	for _, a := range attrs {
		switch a.Attr.Type {
		case syscall.IFA_LOCAL:
			value = a.Value
		case syscall.IFA_ADDRESS:
			if value == nil {
				value = a.Value
			}
		}
	}
	addr, ok := netip.AddrFromSlice(value)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, int(m.Data[1])), true
}

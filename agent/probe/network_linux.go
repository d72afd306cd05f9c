package probe

import (
	"context"
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
var hostOwnerSearch = ownerSearchWith(unix.Readlinkat)

// Socket states (net/tcp_states.h) and the inet_diag requests
// (linux/inet_diag.h) the probe uses.
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpSynRecv     = 3
	tcpClose       = 7 // a bound UDP socket, not connected
	tcpCloseWait   = 8
	tcpListen      = 10
	// tcpDiagGetSock is inet_diag's first request, which the kernel keeps
	// for compatibility: it takes no family and dumps the TCP sockets of
	// both in one walk of the kernel's tables.
	tcpDiagGetSock = 18
)

// The states, a bit each, of the TCP connections the probe lists as
// established: those the kernel counts in CurrEstab (RFC 1213's
// tcpCurrEstab), ESTABLISHED and CLOSE-WAIT (a connection its peer has
// closed and its program not yet). And of those being set up, which a
// walk looks for only to know whether its list may be kept (estabCache).
const (
	connectedStates = 1<<tcpEstablished | 1<<tcpCloseWait
	openingStates   = 1<<tcpSynSent | 1<<tcpSynRecv
)

// Sizes of struct nlmsghdr, inet_diag_req_v2, inet_diag_req (the
// compatible request) and inet_diag_msg.
const (
	nlmsgHdrLen    = 16
	diagReqLen     = 56
	diagCompatLen  = 60
	diagMsgLen     = 72
	diagRecvBufLen = 16 << 10
)

// diagSockets lists the listening TCP and bound UDP sockets, and the
// established TCP connections, through NETLINK_SOCK_DIAG, walking the
// kernel's established hash whenever it counts a connection: a probe keeps
// what a walk found instead (newDiag).
func diagSockets(ctx context.Context, listen, estab *sockList) error {
	var c estabCache // kept by no one: every call walks
	return c.sockets(ctx, listen, estab)
}

// newDiag returns the network probe's reader of sockets: sock_diag, with
// the established connections kept between calls while the kernel's
// counters say none came or went (estabCache).
func newDiag() func(ctx context.Context, listen, estab *sockList) error {
	return new(estabCache).sockets
}

// diagDump lists the listening TCP and bound UDP sockets into listen and,
// with walk, the established TCP connections into estab, returning how
// many of the connections the walk saw are unsettled: being set up, or
// in CLOSE-WAIT (see estabCache). For a LISTEN-only dump the
// kernel walks just its listening hash, where reading /proc/net/tcp walks
// every bucket of the established hash as well. The established
// connections need that walk (the hash has 2^18 buckets on a machine of
// 24 GiB: 1.4 ms here), so it is made once for both families, in the same
// dump as the listening sockets.
func diagDump(walk bool, listen, estab *sockList) (unsettled int, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	d := diagConn{fd: fd, buf: make([]byte, diagRecvBufLen)}
	states := uint32(1 << tcpListen)
	if walk {
		states |= connectedStates | openingStates
	}
	if err := d.dump(d.compatRequest(states), false, listen, estab); err != nil {
		// A kernel without the compatible request: one dump per family.
		listen.reset()
		estab.reset()
		d.unsettled = 0
		for _, family := range [...]uint8{unix.AF_INET, unix.AF_INET6} {
			if err := d.dump(d.request(family, unix.IPPROTO_TCP, states), false, listen, estab); err != nil {
				return 0, fmt.Errorf("sock_diag tcp: %w", err)
			}
		}
	}
	for _, family := range [...]uint8{unix.AF_INET, unix.AF_INET6} {
		if err := d.dump(d.request(family, unix.IPPROTO_UDP, 1<<tcpClose), true, listen, estab); err != nil {
			return 0, fmt.Errorf("sock_diag udp: %w", err)
		}
	}
	return d.unsettled, nil
}

// diagConn is a NETLINK_SOCK_DIAG socket and its receive buffer.
type diagConn struct {
	fd  int
	buf []byte
	seq uint32
	req [nlmsgHdrLen + diagCompatLen]byte
	// unsettled counts the connections the dumps saw being set up or in
	// CLOSE-WAIT.
	unsettled int
}

// request builds an inet_diag_req_v2 dump request for one family and
// protocol, of the sockets in states (a bit per state).
func (d *diagConn) request(family, protocol uint8, states uint32) []byte {
	req := d.header(unix.SOCK_DIAG_BY_FAMILY, diagReqLen)
	req[16], req[17] = family, protocol
	binary.NativeEndian.PutUint32(req[20:], states)
	return req
}

// compatRequest builds an inet_diag_req dump request (TCPDIAG_GETSOCK):
// the TCP sockets of both families in states.
func (d *diagConn) compatRequest(states uint32) []byte {
	req := d.header(tcpDiagGetSock, diagCompatLen)
	binary.NativeEndian.PutUint32(req[nlmsgHdrLen+52:], states)
	return req
}

// header clears the request buffer and writes a dump request's nlmsghdr
// for a body of n bytes.
func (d *diagConn) header(typ uint16, n int) []byte {
	req := d.req[:nlmsgHdrLen+n]
	clear(req)
	d.seq++
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], d.seq)
	return req
}

// dump sends req and reads its answer up to NLMSG_DONE: listening TCP
// sockets and bound UDP ones into listen, established TCP connections
// into estab.
func (d *diagConn) dump(req []byte, udp bool, listen, estab *sockList) error {
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	for {
		n, _, flags, _, err := unix.Recvmsg(d.fd, d.buf, nil, 0)
		if err != nil {
			return fmt.Errorf("receiving the answer: %w", err)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("answer larger than %d bytes", len(d.buf))
		}
		unsettled, done, err := diagMessages(d.buf[:n], udp, listen, estab)
		d.unsettled += unsettled
		if done || err != nil {
			return err
		}
	}
}

// diagMessages decodes one read of a sock_diag answer into listen and
// estab, and counts the unsettled TCP connections in it (being set up, or
// in CLOSE-WAIT); done says it held the end of the dump.
func diagMessages(b []byte, udp bool, listen, estab *sockList) (unsettled int, done bool, err error) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return unsettled, false, fmt.Errorf("malformed netlink message")
		}
		data := b[nlmsgHdrLen:l]
		switch binary.NativeEndian.Uint16(b[4:]) {
		case unix.NLMSG_DONE:
			return unsettled, true, nil
		case unix.NLMSG_ERROR:
			if len(data) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(data)); errno != 0 {
					return unsettled, true, fmt.Errorf("the kernel refused the dump: %w", unix.Errno(errno))
				}
			}
			return unsettled, true, nil
		case unix.SOCK_DIAG_BY_FAMILY, tcpDiagGetSock:
			if len(data) >= diagMsgLen {
				switch e, kind := diagSocket(data, udp); kind {
				case diagListening:
					listen.add(e)
				case diagConnected:
					estab.add(e)
				case diagClosing:
					estab.add(e)
					unsettled++
				case diagOpening:
					unsettled++
				}
			}
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return unsettled, false, nil
}

// diagKind is what a socket of a sock_diag answer is to the probe.
type diagKind uint8

const (
	diagOther     diagKind = iota // another family, or a state not asked for: left out
	diagListening                 // a listening TCP socket, or a bound UDP one
	diagConnected                 // an established TCP connection
	diagClosing                   // one in CLOSE-WAIT: listed as established, and unsettled
	diagOpening                   // a TCP connection being set up (openingStates): unsettled, not listed
)

// diagSocket decodes an inet_diag_msg: family, state, timer, retrans,
// then the socket id (ports and addresses in network order), expires,
// queues, uid and inode; and says what kind of socket it is.
func diagSocket(m []byte, udp bool) (e sockEntry, kind diagKind) {
	var local, remote netip.Addr
	switch m[0] {
	case unix.AF_INET:
		local, remote = netip.AddrFrom4([4]byte(m[8:12])), netip.AddrFrom4([4]byte(m[24:28]))
		e.proto = "tcp"
	case unix.AF_INET6:
		local, remote = netip.AddrFrom16([16]byte(m[8:24])), netip.AddrFrom16([16]byte(m[24:40]))
		e.proto = "tcp6"
	default:
		return e, diagOther
	}
	state := uint32(1) << (m[1] & 31)
	switch {
	case udp:
		kind, e.proto = diagListening, "udp"+e.proto[3:]
	case m[1] == tcpListen:
		kind = diagListening
	case state&connectedStates != 0:
		kind = diagConnected
		if m[1] == tcpCloseWait {
			kind = diagClosing
		}
		e.remote = netip.AddrPortFrom(remote, binary.BigEndian.Uint16(m[6:]))
	case state&openingStates != 0:
		return e, diagOpening
	default:
		return e, diagOther
	}
	e.local = netip.AddrPortFrom(local, binary.BigEndian.Uint16(m[4:]))
	e.uid, e.hasUID = binary.NativeEndian.Uint32(m[64:]), true
	e.inode = uint64(binary.NativeEndian.Uint32(m[68:]))
	return e, kind
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

// hostInterfaceCache is the agent's one list of the host's interfaces
// (see interfaceCache): the network and vpn probes both read it at every
// full snapshot, through hostInterfaces; the vpn and wifi probes keep what
// they read of the interfaces in /sys while its generation does not move
// (hostLinkGen).
var hostInterfaceCache = &interfaceCache{dump: dumpInterfaces, sub: -1}

var (
	hostInterfaces = hostInterfaceCache.get
	hostLinkGen    = hostInterfaceCache.generation
)

// dumpInterfaces lists the interfaces, then all their addresses in one
// netlink dump: Go's Interface.Addrs dumps every address of the machine
// once per interface.
func dumpInterfaces() ([]NetworkInterface, error) {
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

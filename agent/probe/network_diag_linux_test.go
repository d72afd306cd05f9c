package probe

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiagCompatRequest: the compatible request dumps the listening and
// established TCP sockets of both families at once, each under its own
// family's name, on sockets the test opens itself.
func TestDiagCompatRequest(t *testing.T) {
	type conn struct{ local, peer string }
	var want []conn
	for _, f := range []struct{ network, host string }{{"tcp4", "127.0.0.1"}, {"tcp6", "[::1]"}} {
		ln, err := net.Listen(f.network, f.host+":0")
		if err != nil {
			if f.network == "tcp6" {
				t.Logf("no IPv6 here: %v", err)
				continue
			}
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := net.Dial(f.network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want = append(want, conn{ln.Addr().String(), ""}, conn{c.LocalAddr().String(), c.RemoteAddr().String()})
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	d := diagConn{fd: fd, buf: make([]byte, diagRecvBufLen)}
	listen, estab := newSockList(), newSockList()
	if err := d.dump(d.compatRequest(1<<tcpListen|1<<tcpEstablished), false, listen, estab); err != nil {
		t.Fatalf("the compatible request failed: %v", err)
	}
	have := map[conn]string{}
	for _, e := range listen.items {
		have[conn{e.local.String(), ""}] = e.proto
	}
	for _, e := range estab.items {
		have[conn{e.local.String(), e.remote.String()}] = e.proto
	}
	for _, w := range want {
		proto := "tcp"
		if strings.HasPrefix(w.local, "[") {
			proto = "tcp6"
		}
		if have[w] != proto {
			t.Errorf("%s-%s: dumped as %q, want %q", w.local, w.peer, have[w], proto)
		}
	}
}

// diagRecord builds a netlink message of type typ holding an
// inet_diag_msg of family and state.
func diagRecord(typ uint16, family, state uint8, port uint16, inode uint32) []byte {
	b := make([]byte, nlmsgHdrLen+diagMsgLen)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	m := b[nlmsgHdrLen:]
	m[0], m[1] = family, state
	binary.BigEndian.PutUint16(m[4:], port)
	binary.BigEndian.PutUint16(m[6:], 443)
	m[8], m[11], m[24], m[27] = 127, 1, 10, 2
	binary.NativeEndian.PutUint32(m[64:], 1000)
	binary.NativeEndian.PutUint32(m[68:], inode)
	return b
}

// FuzzDiagMessages feeds the sock_diag answer decoder any bytes, seeded
// with answers of both request types: it never panics, adds no more
// sockets than the bytes hold messages, and names each by its family.
func FuzzDiagMessages(f *testing.F) {
	done := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(done, uint32(len(done)))
	binary.NativeEndian.PutUint16(done[4:], unix.NLMSG_DONE)
	refused := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(refused, uint32(len(refused)))
	binary.NativeEndian.PutUint16(refused[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(refused[nlmsgHdrLen:], uint32(0x100000000-int(unix.ENOENT)))
	var answer []byte
	answer = append(answer, diagRecord(tcpDiagGetSock, unix.AF_INET, tcpListen, 22, 100)...)
	answer = append(answer, diagRecord(tcpDiagGetSock, unix.AF_INET6, tcpEstablished, 50000, 101)...)
	answer = append(answer, diagRecord(unix.SOCK_DIAG_BY_FAMILY, unix.AF_INET, tcpClose, 53, 102)...)
	f.Add(append(answer, done...), false)
	f.Add(append(diagRecord(unix.SOCK_DIAG_BY_FAMILY, unix.AF_INET6, tcpClose, 53, 103), done...), true)
	f.Add(refused, false)
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		listen, estab := newSockList(), newSockList()
		_, _, _ = diagMessages(b, udp, listen, estab)
		if n := len(listen.items) + len(estab.items); n > len(b)/(nlmsgHdrLen+diagMsgLen) {
			t.Fatalf("%d sockets from %d bytes", n, len(b))
		}
		for _, e := range append(listen.items, estab.items...) {
			v6 := strings.HasSuffix(e.proto, "6")
			if e.local.Addr().Is6() != v6 || strings.HasPrefix(e.proto, "udp") != udp {
				t.Fatalf("%+v (udp %v)", e, udp)
			}
		}
		for _, e := range estab.items {
			if udp || !e.remote.IsValid() {
				t.Fatalf("established %+v (udp %v)", e, udp)
			}
		}
	})
}

// TestDiagMessages: a listening and an established TCP socket are told
// apart by their state, a connection in CLOSE-WAIT is listed as
// established and counted unsettled, one being set up only counted, and a
// TCP socket in any other state is left out.
func TestDiagMessages(t *testing.T) {
	var b []byte
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET, tcpListen, 22, 100)...)
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET6, tcpEstablished, 50000, 101)...)
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET, tcpClose, 53, 102)...)
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET, tcpCloseWait, 50001, 104)...)
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET, tcpSynSent, 50002, 105)...)
	b = append(b, diagRecord(tcpDiagGetSock, unix.AF_INET6, tcpSynRecv, 80, 106)...)
	listen, estab := newSockList(), newSockList()
	unsettled, done, err := diagMessages(b, false, listen, estab)
	if done || err != nil {
		t.Fatalf("done %v, err %v", done, err)
	}
	if len(listen.items) != 1 || len(estab.items) != 2 || unsettled != 3 {
		t.Fatalf("listening %+v, established %+v, %d unsettled", listen.items, estab.items, unsettled)
	}
	l, e, w := listen.items[0], estab.items[0], estab.items[1]
	if l.proto != "tcp" || l.local.String() != "127.0.0.1:22" || l.remote.IsValid() || l.inode != 100 || l.uid != 1000 {
		t.Errorf("listening %+v", l)
	}
	if e.proto != "tcp6" || e.local.Port() != 50000 || e.remote.Port() != 443 || e.inode != 101 {
		t.Errorf("established %+v", e)
	}
	if w.proto != "tcp" || w.local.Port() != 50001 || w.remote.String() != "10.0.0.2:443" || w.inode != 104 {
		t.Errorf("in CLOSE-WAIT %+v", w)
	}
	listen.reset()
	if _, _, err := diagMessages(diagRecord(unix.SOCK_DIAG_BY_FAMILY, unix.AF_INET6, tcpClose, 53, 103), true, listen, estab); err != nil ||
		len(listen.items) != 1 || listen.items[0].proto != "udp6" {
		t.Errorf("udp6: %+v, %v", listen.items, err)
	}
}

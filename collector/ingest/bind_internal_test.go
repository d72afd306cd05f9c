package ingest

import (
	"net"
	"strings"
	"testing"
)

// TestBindSamePort: with TCP on "the same address" as QUIC, both sockets
// get one port number, the kernel's pick for port 0 included; a port
// taken on TCP fails Listen with an error that says which, and releases
// the UDP socket.
func TestBindSamePort(t *testing.T) {
	for range 20 {
		udp, ln, err := bind("127.0.0.1:0", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, l := udp.LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port
		udp.Close()
		ln.Close()
		if u != l || u == 0 {
			t.Fatalf("UDP port %d, TCP port %d", u, l)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	if _, _, err := bind(addr, addr); err == nil || !strings.Contains(err.Error(), "TCP listener (for agents whose network blocks UDP)") {
		t.Fatalf("bind with the TCP port taken: %v", err)
	}
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the UDP socket was not released: %v", err)
	}
	u.Close()
	if udp, ln, err := bind(addr, ""); err != nil || ln != nil {
		t.Errorf("without TCP: %v, %v", ln, err)
	} else {
		udp.Close()
	}
}

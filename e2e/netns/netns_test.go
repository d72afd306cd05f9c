//go:build linux && faults

package netns

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needRoot stops tests that make namespaces when they cannot: they run
// with the fault tests, as root, with iproute2 and nftables.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("needs %s", tool)
		}
	}
}

// TestNamespaces builds two namespaces joined by a veth pair, runs a relay
// in one, and checks partition and heal.
func TestNamespaces(t *testing.T) {
	needRoot(t)
	a, b := New(t, "ut-a"), New(t, "ut-b")
	Veth(t, a, "va", "10.203.1.1/24", b, "vb", "10.203.1.2/24")
	if out := a.Run(t, "ip", "-o", "addr", "show", "dev", "va"); !strings.Contains(out, "10.203.1.1/24") {
		t.Fatalf("va has: %s", out)
	}

	// An echo server in b, made by Do, and a relay in a in front of it.
	var srv *net.UDPConn
	if err := Do(b, func() (err error) {
		srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 203, 1, 2), Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:n], from)
		}
	}()
	r, err := NewRelay(a, "127.0.0.1:9998", "10.203.1.2:9999")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The relay's listener is on a's loopback, not this namespace's.
	var c *net.UDPConn
	if err := Do(a, func() (err error) {
		c, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9998})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := func() bool {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	if !ping() {
		t.Fatal("no echo through the relay")
	}
	if err := b.Partition(); err != nil {
		t.Fatal(err)
	}
	if ping() {
		t.Fatal("echo through a partition")
	}
	// Dropped like on the wire: the sender is not told.
	if err := a.Partition(); err != nil {
		t.Fatal(err)
	}
	var direct *net.UDPConn
	if err := Do(a, func() (err error) {
		direct, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 203, 1, 2), Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	for range 3 {
		if _, err := direct.Write([]byte("ping")); err != nil {
			t.Fatalf("sending into a partition: %v", err)
		}
	}
	if err := a.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := b.Loss(100); err != nil {
		t.Fatal(err)
	}
	if ping() {
		t.Fatal("echo through 100% loss")
	}
	if err := b.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := b.Heal(); err != nil {
		t.Fatal("second heal:", err)
	}
	ok := false
	for range 5 {
		if ok = ping(); ok {
			break
		}
	}
	if !ok {
		t.Fatal("no echo after heal")
	}
}

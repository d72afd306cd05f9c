package probe_test

import (
	"context"
	"net"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

// TestHostInterfaces checks the single address dump against Go's own
// per-interface listing.
func TestHostInterfaces(t *testing.T) {
	got, err := probe.HostInterfaces()
	if err != nil {
		t.Fatalf("netlink address dump failed on Linux: %v", err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ifs) {
		t.Fatalf("%d interfaces, net.Interfaces has %d", len(got), len(ifs))
	}
	for i, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, a := range addrs {
			want = append(want, a.String())
		}
		slices.Sort(want)
		have := slices.Sorted(slices.Values(got[i].Addrs))
		if got[i].Name != ifi.Name || !slices.Equal(have, want) {
			t.Errorf("interface %d: %s %q, net says %s %q", i, got[i].Name, have, ifi.Name, want)
		}
	}
}

// TestDiagSockets checks that sock_diag and /proc/net see the same
// sockets, on sockets the test opens itself: a listening TCP socket, a
// bound UDP one and an established connection, seen from both ends, in
// IPv4 and (where the host has it) IPv6: sock_diag dumps the TCP sockets
// of both families at once.
func TestDiagSockets(t *testing.T) {
	type want struct{ proto, addr, peer string }
	var wants []want
	for _, f := range []struct{ tcp, udp, host string }{{"tcp4", "udp4", "127.0.0.1"}, {"tcp6", "udp6", "[::1]"}} {
		ln, err := net.Listen(f.tcp, f.host+":0")
		if err != nil {
			if f.tcp == "tcp6" {
				t.Logf("no IPv6 here: %v", err)
				continue
			}
			t.Fatal(err)
		}
		defer ln.Close()
		pc, err := net.ListenPacket(f.udp, f.host+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		conn, err := net.Dial(f.tcp, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		proto, uproto := "tcp", "udp"
		if f.tcp == "tcp6" {
			proto, uproto = "tcp6", "udp6"
		}
		wants = append(wants, want{proto, ln.Addr().String(), ""}, want{uproto, pc.LocalAddr().String(), ""},
			want{proto, conn.LocalAddr().String(), conn.RemoteAddr().String()},
			want{proto, server.LocalAddr().String(), server.RemoteAddr().String()})
	}
	if n, ok := probe.CurrEstab(context.Background()); !ok || n < 2 {
		t.Errorf("CurrEstab %d (read: %v), with the test's own connection open", n, ok)
	}
	dl, de, err := probe.DiagSockets(context.Background())
	if err != nil {
		t.Fatalf("sock_diag failed on Linux: %v", err)
	}
	pl, pe, err := probe.ProcSockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range wants {
		host, port, _ := net.SplitHostPort(s.addr)
		find := func(socks []probe.NetworkSocket) *probe.NetworkSocket {
			for i := range socks {
				k := &socks[i]
				peer := ""
				if k.RemotePort != 0 {
					peer = net.JoinHostPort(k.RemoteAddress, strconv.Itoa(int(k.RemotePort)))
				}
				if k.Proto == s.proto && k.Address == host && strconv.Itoa(int(k.Port)) == port && peer == s.peer {
					return k
				}
			}
			return nil
		}
		d, p := find(dl), find(pl)
		if s.peer != "" {
			d, p = find(de), find(pe)
		}
		if d == nil || p == nil || !reflect.DeepEqual(*d, *p) {
			t.Errorf("%s %s-%s: sock_diag has %+v, /proc/net has %+v", s.proto, s.addr, s.peer, d, p)
		}
	}
}

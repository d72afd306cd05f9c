package ingest

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestSourcesAdmit: each source address has its own bucket of new TCP
// connections: a burst passes, then the rate; others are not affected;
// IPv4 in IPv6 is the same address.
func TestSourcesAdmit(t *testing.T) {
	s := &sources{m: map[netip.Addr]*bucket{}}
	now := time.Unix(1000, 0)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1111}
	mapped := &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 2222}
	b := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 3333}
	for i := range tcpSourceBurst {
		addr := a
		if i%2 == 1 {
			addr = mapped
		}
		if !s.admit(addr, now) {
			t.Fatalf("connection %d of the burst refused", i)
		}
	}
	if s.admit(a, now) || s.admit(mapped, now) {
		t.Fatal("a connection past the burst admitted at once")
	}
	if !s.admit(b, now) {
		t.Fatal("another address was refused because of the first")
	}
	if !s.admit(a, now.Add(time.Second/tcpSourceRate)) {
		t.Error("the rate does not refill the bucket")
	}
}

// TestSourcesPrune: past maxSources addresses, those whose bucket has
// refilled are forgotten and a busy one is kept; if none has, all are.
func TestSourcesPrune(t *testing.T) {
	s := &sources{m: map[netip.Addr]*bucket{}}
	now := time.Unix(1000, 0)
	for i := range maxSources - 1 {
		s.admit(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1}, now)
	}
	busy := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	later := now.Add(10 * time.Second)
	s.admit(busy, later)
	s.admit(&net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1}, later)
	if len(s.m) != 2 || s.m[netip.MustParseAddr("192.0.2.1")] == nil {
		t.Fatalf("%d addresses kept after the quiet ones refilled, want the busy one and the new one", len(s.m))
	}
	for i := range maxSources - 2 {
		s.admit(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1}, later)
	}
	s.admit(&net.TCPAddr{IP: net.ParseIP("192.0.2.3"), Port: 1}, later)
	if len(s.m) != 1 {
		t.Errorf("%d addresses kept when none had refilled, want all forgotten but the new one", len(s.m))
	}
}

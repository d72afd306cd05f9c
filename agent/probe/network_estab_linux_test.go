package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// fakeKernel stands for sock_diag and /proc/net/snmp under an estabCache:
// its connections, counters and unsettled count are the test's to set,
// and it counts the walks made.
type fakeKernel struct {
	conns     []sockEntry
	counters  tcpCounters
	counted   bool
	unsettled int
	err       error
	walks     int
}

func (k *fakeKernel) cache() *estabCache {
	return &estabCache{
		counters: func(context.Context) (tcpCounters, bool) { return k.counters, k.counted },
		dump: func(walk bool, listen, estab *sockList) (int, error) {
			if k.err != nil {
				return 0, k.err
			}
			listen.add(sockEntry{proto: "tcp", local: netip.MustParseAddrPort("0.0.0.0:22"), inode: 1})
			if !walk {
				return 0, nil
			}
			k.walks++
			for _, e := range k.conns {
				estab.add(e)
			}
			return k.unsettled, nil
		},
	}
}

// connections makes n established connections, from local port 1000 up.
func connections(n int) []sockEntry {
	out := make([]sockEntry, n)
	for i := range out {
		out[i] = sockEntry{proto: "tcp", local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)),
			remote: netip.MustParseAddrPort("10.0.0.2:443"), inode: uint64(100 + i)}
	}
	return out
}

// list runs c once and returns the established connections as the probe
// reports them (bounded), and how many it left off.
func list(t *testing.T, c *estabCache) ([]sockEntry, int) {
	t.Helper()
	listen, estab := newSockList(), newSockList()
	if err := c.sockets(context.Background(), listen, estab); err != nil {
		t.Fatal(err)
	}
	if len(listen.items) != 1 {
		t.Fatalf("listening %+v: the listening sockets are read at every call", listen.items)
	}
	items, more := estab.bounded(maxEstablished)
	return slices.Clone(items), more
}

// TestEstabCacheKeepsWalk: the established connections a walk found are
// listed again without a walk while the counters do not move, and a moved
// counter, of any of the three, means a new walk.
func TestEstabCacheKeepsWalk(t *testing.T) {
	k := &fakeKernel{conns: connections(3), counters: tcpCounters{10, 20, 3}, counted: true}
	c := k.cache()
	first, _ := list(t, c)
	if k.walks != 1 || len(first) != 3 {
		t.Fatalf("first call: %d walks, %+v", k.walks, first)
	}
	first[0].pid = 42 // the probe sets owners on what it got: not on what is kept
	k.conns = connections(1)
	again, _ := list(t, c)
	if k.walks != 1 || len(again) != 3 || again[0].pid != 0 {
		t.Fatalf("counters unchanged: %d walks, %+v; want the first walk's 3, without owners", k.walks, again)
	}
	for i, moved := range []tcpCounters{{11, 20, 3}, {11, 21, 3}, {11, 21, 1}} {
		k.counters, k.conns = moved, connections(i+4)
		got, _ := list(t, c)
		if k.walks != i+2 || len(got) != i+4 {
			t.Fatalf("counters %+v: %d walks, %d connections; want a new walk", moved, k.walks, len(got))
		}
	}
}

// TestEstabCacheWalksAgain: a walk is not kept when it saw connections
// being set up or in CLOSE-WAIT, when the counters cannot be read, or when
// it failed; no walk is made when the kernel counts no connection.
func TestEstabCacheWalksAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(k *fakeKernel)
	}{
		{"unsettled", func(k *fakeKernel) { k.unsettled = 1 }},
		{"no counters", func(k *fakeKernel) { k.counted = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &fakeKernel{conns: connections(2), counters: tcpCounters{1, 1, 2}, counted: true}
			tc.set(k)
			c := k.cache()
			for i := range 3 {
				if got, _ := list(t, c); len(got) != 2 || k.walks != i+1 {
					t.Fatalf("call %d: %d connections, %d walks", i+1, len(got), k.walks)
				}
			}
		})
	}
	t.Run("failed", func(t *testing.T) {
		k := &fakeKernel{conns: connections(2), counters: tcpCounters{1, 1, 2}, counted: true}
		c := k.cache()
		list(t, c)
		k.err = errors.New("refused")
		if err := c.sockets(context.Background(), newSockList(), newSockList()); !errors.Is(err, k.err) {
			t.Fatalf("err %v", err)
		}
		k.err = nil
		if list(t, c); k.walks != 2 {
			t.Fatalf("%d walks: the call after a failure walks again", k.walks)
		}
	})
	t.Run("none counted", func(t *testing.T) {
		k := &fakeKernel{conns: connections(2), counters: tcpCounters{1, 1, 0}, counted: true}
		c := k.cache()
		if got, _ := list(t, c); len(got) != 0 || k.walks != 0 {
			t.Fatalf("%d connections, %d walks, with CurrEstab 0", len(got), k.walks)
		}
		k.counters.currEstab = 2
		if got, _ := list(t, c); len(got) != 2 || k.walks != 1 {
			t.Fatalf("%d connections, %d walks, with CurrEstab 2", len(got), k.walks)
		}
	})
}

// TestEstabCacheBounded: what is kept is the bounded list, and listing
// it again reports the same connections and the same count left off.
func TestEstabCacheBounded(t *testing.T) {
	k := &fakeKernel{conns: connections(maxEstablished + 50), counters: tcpCounters{1, 1, maxEstablished + 50}, counted: true}
	slices.Reverse(k.conns)
	c := k.cache()
	first, more := list(t, c)
	again, moreAgain := list(t, c)
	if k.walks != 1 || len(c.items) != maxEstablished {
		t.Fatalf("%d walks, %d kept", k.walks, len(c.items))
	}
	if more != 50 || moreAgain != 50 || !slices.Equal(first, again) || first[0].local.Port() != 1000 {
		t.Fatalf("first %d (+%d) from port %d, again %d (+%d)", len(first), more, first[0].local.Port(), len(again), moreAgain)
	}
}

// TestEstabCacheCloseWait: on the real kernel, a connection its peer
// closed (CLOSE-WAIT) is still listed as established, whether the walk
// is kept or not, and is gone once its own side closes; the peer's side
// (FIN-WAIT-2) is not listed.
func TestEstabCacheCloseWait(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	client, peer := conn.LocalAddr().String(), server.LocalAddr().String()+"-"+server.RemoteAddr().String()
	listed := func(c *estabCache) map[string]bool {
		listen, estab := newSockList(), newSockList()
		if err := c.sockets(context.Background(), listen, estab); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, e := range estab.items {
			out[e.local.String()] = true
			out[e.local.String()+"-"+e.remote.String()] = true
		}
		return out
	}
	var c estabCache
	if got := listed(&c); !got[client] || !got[peer] {
		t.Fatalf("both ends of an open connection: %s %v, %s %v", client, got[client], peer, got[peer])
	}
	server.Close()
	if _, err := io.ReadAll(conn); err != nil { // to the peer's FIN: CLOSE-WAIT
		t.Fatal(err)
	}
	for i := range 2 { // a walk, then the same kept or walked again
		if got := listed(&c); !got[client] || got[peer] {
			t.Fatalf("call %d after the peer closed: %s listed %v (want it, in CLOSE-WAIT), %s %v (want not)", i+1, client, got[client], peer, got[peer])
		}
	}
	conn.Close()
	if got := listed(&c); got[client] {
		t.Fatalf("%s listed after both ends closed", client)
	}
}

package client

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// Roaming. When the machine's addresses change (Wi-Fi to wired, a new DHCP
// lease, a VPN coming up), QUIC connection migration usually keeps the
// connection: the collector validates the new path and moves to it. When
// it cannot (the old route is gone, a middlebox drops the new path), the
// connection would linger until its idle timeout. So the agent watches its
// addresses; on a change it sends a health snapshot at once, and if no ack
// arrives within roamCheck it drops the connection and dials anew. A
// connection that cannot migrate (TCP: not a transport.Migrating) whose
// local address is gone is dropped at once. On
// Linux the kernel says when addresses change (addrChanges), at no cost
// while nothing happens; elsewhere the agent looks every roamPoll.
var (
	roamPoll  = 10 * time.Second
	roamCheck = 5 * time.Second
)

// pollChanges ticks every roamPoll until ctx ends: the portable way of
// noticing address changes. Its goroutine is in wg.
func pollChanges(ctx context.Context, wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{}, 1)
	wg.Go(func() {
		t := time.NewTicker(roamPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				signal(ch)
			}
		}
	})
	return ch
}

// localAddrs returns the machine's unicast addresses, sorted.
func localAddrs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			out = append(out, ipn.IP.String())
		}
	}
	slices.Sort(out)
	return out
}

// addrGone reports whether a, a connection's local address, is not among
// the machine's addresses (as localAddrs lists them: loopback and
// link-local addresses, which it leaves out, are never gone).
func addrGone(a net.Addr, addrs []string) bool {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	return !slices.Contains(addrs, ip.String())
}

// watchRoaming checks the connection whenever the machine's addresses
// change, until ctx ends.
func (c *Client) watchRoaming(ctx context.Context, conn transport.Conn) {
	// The watcher of addresses ends with this function.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes := addrChanges(ctx, &wg)
	last := localAddrs()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		}
		now := localAddrs()
		if slices.Equal(now, last) {
			continue
		}
		last = now
		if _, ok := conn.(transport.Migrating); !ok && addrGone(conn.LocalAddr(), now) {
			c.Log.Info("network addresses changed and the connection's is gone; reconnecting", "addresses", now, "transport", conn.Kind())
			conn.CloseWithError(0, "network changed; reconnecting")
			return
		}
		changed := time.Now()
		c.Log.Info("network addresses changed; checking the connection", "addresses", now)
		signal(c.kick)
		t := time.NewTimer(roamCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if c.lastAck.Load() < changed.UnixNano() && c.held() <= 0 {
			c.Log.Warn("no answer from the collector since the network changed; reconnecting")
			conn.CloseWithError(0, "network changed; reconnecting")
			return
		}
	}
}

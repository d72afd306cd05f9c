//go:build linux && faults

package client

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/e2e/netns"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/internal/transport/transporttest"
)

// TestHostFirewallRefusesUDP: a host firewall that drops outgoing UDP (an
// nftables rule in a namespace of the test's own) makes sendmsg fail with
// EPERM. QUIC, on a socket in that namespace, fails at once; the dialer
// goes to TCP without waiting out the race delay and remembers the
// network. Run with the fault tests (root, nftables): make test-faults.
func TestHostFirewallRefusesUDP(t *testing.T) {
	ns := netns.New(t, "udp-refused")
	ns.Run(t, "nft", "add table inet fw; add chain inet fw out { type filter hook output priority 0; }; add rule inet fw out meta l4proto udp drop")
	var udp *net.UDPConn
	if err := netns.Do(ns, func() (err error) {
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tr := &quicgo.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close(); udp.Close() })

	// A stand-in collector on TCP, in the test's own namespace.
	certs := transporttest.NewCerts(t)
	ln, err := tcp.Listen("127.0.0.1:0", certs.Server, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan transport.Conn, 1)
	go func() {
		if c, err := ln.Accept(context.Background()); err == nil {
			accepted <- c
		}
	}()

	var quicErr error
	var quicTook time.Duration
	d := newDialer(nil, nil)
	d.network = func() string { return "firewalled" }
	d.quic = func(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error) {
		to, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		c, err := tquic.DialWith(ctx, tr, to, tc, QUICConfig())
		quicErr, quicTook = err, time.Since(start)
		return c, err
	}
	start := time.Now()
	c, err := d.dial(t.Context(), ln.Addr().String(), certs.Client)
	took := time.Since(start)
	if err != nil || c.Kind() != transport.KindTCP {
		t.Fatalf("dial: %v, %v; want TCP", c, err)
	}
	defer c.CloseWithError(0, "")
	(<-accepted).CloseWithError(0, "")
	if quicErr == nil || !strings.Contains(quicErr.Error(), "sendmsg: operation not permitted") {
		t.Errorf("QUIC through the firewall: %v, want sendmsg's EPERM", quicErr)
	}
	if took >= raceDelay || quicTook >= raceDelay {
		t.Errorf("QUIC failed after %s and TCP connected after %s: want both within the race delay of %s", quicTook, took, raceDelay)
	}
	if !d.udpBlocked("firewalled") {
		t.Error("the network is not remembered as blocking UDP")
	}
	t.Logf("QUIC failed after %s (%v); TCP connected after %s", quicTook.Round(time.Microsecond), quicErr, took.Round(time.Microsecond))
}

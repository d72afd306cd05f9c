package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// Choosing the transport. QUIC is the default: it survives a change of
// address and costs the collector less. Many networks block UDP, though,
// some by dropping it (QUIC then waits out its handshake timeout) and some
// at the host's firewall (sendmsg fails with EPERM or EACCES at once). So
// the agent dials QUIC and, if that has not connected within raceDelay or
// has failed, dials TCP too, and keeps whichever connects first. When TCP
// wins, the agent remembers that UDP is blocked on this network (its
// default gateway and addresses: networkKey) and dials TCP first there
// until QUIC works again: while on TCP it tries QUIC every
// Client.QUICRetry (defaultQUICRetry), and moves to it once it connects. A
// network where both fail is not marked.
var raceDelay = 300 * time.Millisecond

const defaultQUICRetry = 5 * time.Minute

// maxNetworks bounds the networks remembered as blocking UDP.
const maxNetworks = 64

// errMovingToQUIC ends a TCP session on purpose: QUIC works again.
var errMovingToQUIC = errors.New("QUIC works again on this network; moving to it")

// attempt is one way of connecting.
type attempt[T any] func(ctx context.Context) (T, error)

// race runs first, and second once first has failed or delay has passed,
// and returns the first success; a later success of the other is handed to
// drop. When both fail, the error holds both. The attempts' context ends
// when race returns: a context that only bounds a handshake.
func race[T any](ctx context.Context, delay time.Duration, first, second attempt[T], drop func(T)) (T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   T
		err error
		i   int
	}
	results := make(chan result, 2)
	start := func(i int, a attempt[T]) {
		go func() {
			v, err := a(ctx)
			results <- result{v, err, i}
		}()
	}
	start(0, first)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	running, secondStarted := 1, false
	startSecond := func() {
		if !secondStarted {
			secondStarted = true
			running++
			start(1, second)
		}
	}
	var errs [2]error
	for running > 0 {
		select {
		case <-timer.C:
			startSecond()
		case r := <-results:
			running--
			if r.err == nil {
				if running > 0 {
					go func() {
						if o := <-results; o.err == nil {
							drop(o.v)
						}
					}()
				}
				return r.v, nil
			}
			errs[r.i] = r.err
			startSecond()
		}
	}
	var zero T
	return zero, &raceError{first: errs[0], second: errs[1]}
}

// raceError is the failure of both attempts.
type raceError struct{ first, second error }

func (e *raceError) Error() string {
	if e.first.Error() == e.second.Error() {
		return e.first.Error()
	}
	return e.first.Error() + "; then " + e.second.Error()
}

func (e *raceError) Unwrap() []error { return []error{e.first, e.second} }

// over names the transport in an attempt's error.
func over(kind string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("over %s: %w", strings.ToUpper(kind), err)
}

// dialer connects to the collector, racing QUIC and TCP, and remembers the
// networks that block UDP. Its zero value is not ready: see newDialer.
type dialer struct {
	quic, tcp func(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error)
	network   func() string // the current network's key

	mu      sync.Mutex
	blocked map[string]time.Time // networks where TCP won, and since when
}

// newDialer returns a dialer whose TCP attempts go through the proxies px
// chooses; ca is the collector's pinned CA, which names an interception.
func newDialer(px *Proxies, ca *x509.Certificate) *dialer {
	viaTCP := func(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error) {
		return dialTCP(ctx, addr, tc, px, ca)
	}
	return &dialer{quic: dialQUIC, tcp: viaTCP, network: networkKey, blocked: map[string]time.Time{}}
}

// dial connects to addr with tc: QUIC first, or TCP first on a network
// known to block UDP. Its error names addr.
func (d *dialer) dial(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error) {
	network := d.network()
	viaQUIC := func(ctx context.Context) (transport.Conn, error) {
		c, err := d.quic(ctx, addr, tc)
		return c, over(transport.KindQUIC, err)
	}
	viaTCP := func(ctx context.Context) (transport.Conn, error) {
		c, err := d.tcp(ctx, addr, tc)
		return c, over(transport.KindTCP, err)
	}
	first, second := viaQUIC, viaTCP
	if d.udpBlocked(network) {
		first, second = viaTCP, viaQUIC
	}
	conn, err := race(ctx, raceDelay, first, second, func(c transport.Conn) { c.CloseWithError(0, "another transport connected first") })
	if err != nil {
		return nil, dialError(addr, tc, err)
	}
	d.learn(network, conn.Kind())
	return conn, nil
}

// udpBlocked reports whether TCP won the last race on network.
func (d *dialer) udpBlocked(network string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.blocked[network]
	return ok
}

// learn records which transport connected on network.
func (d *dialer) learn(network, kind string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if kind != transport.KindTCP {
		delete(d.blocked, network)
		return
	}
	if _, ok := d.blocked[network]; ok {
		return
	}
	if len(d.blocked) >= maxNetworks {
		var oldest string
		for n, at := range d.blocked {
			if oldest == "" || at.Before(d.blocked[oldest]) {
				oldest = n
			}
		}
		delete(d.blocked, oldest)
	}
	d.blocked[network] = time.Now()
}

// watchQUIC, while conn runs over TCP, tries QUIC every Client.QUICRetry; once
// QUIC connects, it forgets that UDP was blocked on this network and ends
// conn with errMovingToQUIC for the caller, who dials again, QUIC first.
func (c *Client) watchQUIC(ctx context.Context, conn transport.Conn, tc *tls.Config, moving *atomic.Bool) {
	if conn.Kind() != transport.KindTCP {
		return
	}
	d := c.dial()
	every := c.QUICRetry
	if every <= 0 {
		every = defaultQUICRetry
	}
	for {
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		tryCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		q, err := d.quic(tryCtx, c.ID.Collector, tc)
		cancel()
		if err != nil {
			c.Log.Debug("QUIC still fails on this network; staying on TCP", "err", err)
			continue
		}
		q.CloseWithError(0, "reachability check")
		d.learn(d.network(), transport.KindQUIC)
		c.Log.Info("QUIC works again on this network; moving to it")
		moving.Store(true)
		conn.CloseWithError(0, "moving to QUIC")
		return
	}
}

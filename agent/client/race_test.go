package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/internal/transport"
)

// fakeConn is a connection of a kind that records its close.
type fakeConn struct {
	transport.Conn
	kind   string
	closed atomic.Bool
	reason atomic.Value
}

func (f *fakeConn) Kind() string { return f.kind }
func (f *fakeConn) CloseWithError(_ uint64, reason string) error {
	f.reason.Store(reason)
	f.closed.Store(true)
	return nil
}

// way is a fake transport: it answers after wait with a conn, or err, and
// counts its calls. wait < 0 waits for the context.
type way struct {
	kind     string
	stubborn bool // finishes its handshake even once the context ended
	wait     time.Duration
	err      error
	calls    atomic.Int32
	mu       sync.Mutex
	conns    []*fakeConn
}

func (w *way) set(wait time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wait, w.err = wait, err
}

func (w *way) dial(ctx context.Context, _ string, _ *tls.Config) (transport.Conn, error) {
	w.calls.Add(1)
	w.mu.Lock()
	wait, fail := w.wait, w.err
	w.mu.Unlock()
	if wait < 0 {
		<-ctx.Done()
		return nil, fmt.Errorf("%s handshake: %w", w.kind, ctx.Err())
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		if w.stubborn {
			time.Sleep(wait)
		} else if fail == nil {
			// quic-go and tcp.Dial give up on a canceled context too
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	c := &fakeConn{kind: w.kind}
	w.mu.Lock()
	w.conns = append(w.conns, c)
	w.mu.Unlock()
	return c, nil
}

func testDialer(q, t *way, network *atomic.Value) *dialer {
	d := newDialer(nil, nil)
	d.quic, d.tcp = q.dial, t.dial
	d.network = func() string { return network.Load().(string) }
	return d
}

func dialOnce(t *testing.T, d *dialer) (transport.Conn, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.dial(ctx, "collector.example.net:7443", &tls.Config{ServerName: "collector.example.net"})
	return c, time.Since(start), err
}

func network(name string) *atomic.Value {
	var v atomic.Value
	v.Store(name)
	return &v
}

// TestDialQUICFirst: where QUIC connects at once, TCP is never tried.
func TestDialQUICFirst(t *testing.T) {
	q, tc := &way{kind: transport.KindQUIC}, &way{kind: transport.KindTCP}
	d := testDialer(q, tc, network("home"))
	c, _, err := dialOnce(t, d)
	if err != nil || c.Kind() != transport.KindQUIC {
		t.Fatalf("dial: %v, %v; want QUIC", c, err)
	}
	time.Sleep(2 * raceDelay)
	if n := tc.calls.Load(); n != 0 {
		t.Errorf("TCP dialed %d times although QUIC connected at once", n)
	}
}

// TestDialUDPDropped: where QUIC's packets vanish, TCP joins after
// raceDelay and wins; the network is remembered, and the next dials there
// go to TCP first without waiting for QUIC; another network starts with
// QUIC again.
func TestDialUDPDropped(t *testing.T) {
	q, tc := &way{kind: transport.KindQUIC, wait: -1}, &way{kind: transport.KindTCP}
	net := network("cafe")
	d := testDialer(q, tc, net)
	c, took, err := dialOnce(t, d)
	if err != nil || c.Kind() != transport.KindTCP {
		t.Fatalf("dial: %v, %v; want TCP", c, err)
	}
	if took < raceDelay || took > raceDelay+time.Second {
		t.Errorf("TCP won after %s, want just after the race delay of %s", took, raceDelay)
	}
	q.calls.Store(0)
	for range 5 {
		c, took, err := dialOnce(t, d)
		if err != nil || c.Kind() != transport.KindTCP || took >= raceDelay {
			t.Fatalf("dialing again on the same network: %v, %v after %s; want TCP at once", c, err, took)
		}
	}
	if n := q.calls.Load(); n != 0 {
		t.Errorf("QUIC dialed %d times on a network known to drop UDP, where TCP connects at once", n)
	}
	net.Store("office")
	q.set(0, nil)
	if c, _, err := dialOnce(t, d); err != nil || c.Kind() != transport.KindQUIC {
		t.Errorf("on another network: %v, %v; want QUIC first", c, err)
	}
}

// TestDialUDPRefusedByHost: a host firewall refusing UDP (sendmsg EPERM or
// EACCES) fails QUIC at once; TCP starts at once, without the race delay,
// and the network is remembered: no churn, no crash.
func TestDialUDPRefusedByHost(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EACCES} {
		refused := &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendmsg", errno)}
		q, tc := &way{kind: transport.KindQUIC, err: refused}, &way{kind: transport.KindTCP}
		d := testDialer(q, tc, network("locked-down"))
		c, took, err := dialOnce(t, d)
		if err != nil || c.Kind() != transport.KindTCP {
			t.Fatalf("%v: dial: %v, %v; want TCP", errno, c, err)
		}
		if took >= raceDelay {
			t.Errorf("%v: TCP won after %s: it waited for the race delay after QUIC had failed", errno, took)
		}
		if !d.udpBlocked("locked-down") {
			t.Errorf("%v: the network is not remembered as blocking UDP", errno)
		}
	}
}

// TestDialBothFail: the error names the collector and both failures, which
// errors.Is finds; the network is not marked.
func TestDialBothFail(t *testing.T) {
	qerr, terr := errors.New("no recent network activity"), syscall.ECONNREFUSED
	q, tc := &way{kind: transport.KindQUIC, err: qerr}, &way{kind: transport.KindTCP, err: terr}
	d := testDialer(q, tc, network("down"))
	_, _, err := dialOnce(t, d)
	if err == nil || !errors.Is(err, qerr) || !errors.Is(err, terr) {
		t.Fatalf("both failing: %v, want both errors", err)
	}
	for _, want := range []string{"connecting to collector.example.net:7443", "over QUIC: no recent network activity", "over TCP: connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d.udpBlocked("down") {
		t.Error("a network where both failed is marked as blocking UDP")
	}
}

// TestDialLoserClosed: when both connect, the one that lost is closed.
func TestDialLoserClosed(t *testing.T) {
	q := &way{kind: transport.KindQUIC, wait: raceDelay + 200*time.Millisecond, stubborn: true}
	tc := &way{kind: transport.KindTCP, wait: 50 * time.Millisecond}
	d := testDialer(q, tc, network("slow"))
	c, _, err := dialOnce(t, d)
	if err != nil || c.Kind() != transport.KindTCP {
		t.Fatalf("dial: %v, %v; want TCP", c, err)
	}
	time.Sleep(time.Second) // the QUIC attempt connects late
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.conns) != 1 || !q.conns[0].closed.Load() {
		t.Error("the QUIC connection that lost the race is still open")
	}
	if q.calls.Load() != 1 {
		t.Errorf("QUIC dialed %d times", q.calls.Load())
	}
}

// TestRaceDropsLateWinner: race hands a late success to drop.
func TestRaceDropsLateWinner(t *testing.T) {
	dropped := make(chan int, 1)
	got, err := race(t.Context(), 10*time.Millisecond,
		func(ctx context.Context) (int, error) { time.Sleep(100 * time.Millisecond); return 1, nil },
		func(ctx context.Context) (int, error) { return 2, nil },
		func(v int) { dropped <- v })
	if err != nil || got != 2 {
		t.Fatalf("race = %d, %v; want the second", got, err)
	}
	select {
	case v := <-dropped:
		if v != 1 {
			t.Errorf("dropped %d", v)
		}
	case <-time.After(time.Second):
		t.Error("the late success was not dropped")
	}
}

// TestDialerForgetsOldest: at most maxNetworks networks are remembered.
func TestDialerForgetsOldest(t *testing.T) {
	d := newDialer(nil, nil)
	for i := range maxNetworks + 5 {
		d.learn(fmt.Sprint("net", i), transport.KindTCP)
		time.Sleep(time.Microsecond)
	}
	if len(d.blocked) != maxNetworks || d.udpBlocked("net0") || !d.udpBlocked(fmt.Sprint("net", maxNetworks+4)) {
		t.Errorf("%d networks remembered (net0 %v)", len(d.blocked), d.udpBlocked("net0"))
	}
	d.learn("net9", transport.KindQUIC)
	if d.udpBlocked("net9") {
		t.Error("QUIC connecting did not clear the mark")
	}
}

// TestWatchQUICMovesBack: on TCP, the agent tries QUIC every QUICRetry;
// once it connects, the network is no longer marked and the TCP
// connection ends, marked as a move.
func TestWatchQUICMovesBack(t *testing.T) {
	q := &way{kind: transport.KindQUIC, err: errors.New("still blocked")}
	tc := &way{kind: transport.KindTCP}
	net := network("hotel")
	c := &Client{ID: &state.Identity{Config: state.Config{Collector: "collector.example.net:7443"}}, Log: slog.New(slog.DiscardHandler),
		QUICRetry: 50 * time.Millisecond}
	c.dialer = testDialer(q, tc, net)
	c.dialer.learn("hotel", transport.KindTCP)
	conn := &fakeConn{kind: transport.KindTCP}
	var moving atomic.Bool
	done := make(chan struct{})
	go func() { defer close(done); c.watchQUIC(t.Context(), conn, &tls.Config{}, &moving) }()
	time.Sleep(300 * time.Millisecond)
	if conn.closed.Load() || q.calls.Load() < 2 {
		t.Fatalf("while QUIC fails: closed %v after %d tries", conn.closed.Load(), q.calls.Load())
	}
	q.set(0, nil)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watchQUIC did not end once QUIC connected")
	}
	if !moving.Load() || !conn.closed.Load() || c.dialer.udpBlocked("hotel") {
		t.Errorf("after QUIC connected: moving %v, TCP closed %v, still marked %v", moving.Load(), conn.closed.Load(), c.dialer.udpBlocked("hotel"))
	}
	if r, _ := conn.reason.Load().(string); !strings.Contains(r, "QUIC") {
		t.Errorf("the TCP connection was closed with %q", r)
	}
	// On QUIC there is nothing to watch.
	c.watchQUIC(t.Context(), &fakeConn{kind: transport.KindQUIC}, &tls.Config{}, &moving)
}

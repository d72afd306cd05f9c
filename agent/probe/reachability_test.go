package probe_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// TestReachabilityLocal checks real lookups and connections: a listener
// on 127.0.0.1, a closed port, and localhost, which resolves from
// /etc/hosts.
func TestReachabilityLocal(t *testing.T) {
	open, closed := localTargets(t)
	p, _ := probe.New("reachability")
	env := &probe.Env{Reachability: []string{"127.0.0.1:" + open, "127.0.0.1:" + closed, "localhost:" + open}}
	v, err := p.Collect(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.ReachabilityResult)
	if r.Configured != 3 || len(r.Targets) != 3 {
		t.Fatalf("result: %+v", r)
	}
	ok, refused, local := r.Targets[0], r.Targets[1], r.Targets[2]
	if !ok.OK || ok.Resolve != nil || ok.Connect.Error != "" || ok.Address != "127.0.0.1:"+open || ok.Attempts != nil {
		t.Errorf("open port: %+v", ok)
	}
	if refused.OK || refused.Connect.Kind != "refused" || refused.Connect.Error == "" {
		t.Errorf("closed port: %+v", refused)
	}
	// localhost may resolve to ::1 first, where nothing listens: the
	// probe goes on to 127.0.0.1.
	if !local.OK || local.Resolve == nil || local.Resolve.Error != "" || len(local.Addresses) == 0 || local.Address != "127.0.0.1:"+open {
		t.Errorf("localhost: %+v", local)
	}
	if local.Resolve.DurationMS <= 0 || ok.Connect.DurationMS <= 0 {
		t.Errorf("steps not timed: resolve %v ms, connect %v ms", local.Resolve.DurationMS, ok.Connect.DurationMS)
	}
}

// localTargets returns the port of a listener on 127.0.0.1 that accepts
// and closes every connection until the test ends, and a port nothing
// listens on.
func localTargets(tb testing.TB) (open, closed string) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), closedPort(tb)
}

// closedPort returns a local port nothing listens on.
func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port
}

func TestReachabilityNone(t *testing.T) {
	p, _ := probe.New("reachability")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if r := v.(*probe.ReachabilityResult); r.Configured != 0 || len(r.Targets) != 0 || r.Note == "" {
		t.Errorf("no targets: %+v", r)
	}
	if _, err := p.Collect(context.Background(), &probe.Env{Health: true, Reachability: []string{"127.0.0.1:1"}}); err == nil {
		t.Error("a health snapshot made connections")
	}
}

// fakeDialer answers connections by address from a table, after a delay.
func fakeDialer(outcomes map[string]error, delay time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
		}
		err, ok := outcomes[addr]
		if !ok {
			return nil, fmt.Errorf("dial %s: unexpected address", addr)
		}
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		c1, c2 := net.Pipe()
		c2.Close()
		return c1, nil
	}
}

// TestReachabilityGolden pins the result's shape over a fake network:
// every kind of outcome, all durations zero.
func TestReachabilityGolden(t *testing.T) {
	dir := filepath.Join("testdata", "reachability", "office")
	resolve := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "intranet.example.com":
			return []netip.Addr{netip.MustParseAddr("2001:db8::3"), netip.MustParseAddr("::ffff:10.1.2.3")}, nil
		case "jump.corp.example":
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		case "files.corp.example":
			return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
		}
		return nil, errors.New("unexpected lookup of " + host)
	}
	dial := fakeDialer(map[string]error{
		"[2001:db8::3]:443": syscall.ENETUNREACH,
		"10.1.2.3:443":      nil,
		"10.0.0.5:3389":     os.ErrDeadlineExceeded,
		"192.0.2.7:22":      syscall.ECONNREFUSED,
		"192.0.2.8:22":      errors.New("connectex: A socket operation was attempted to an unreachable host."),
	}, 0)
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	p := probe.NewTestReachability(probe.ReachFakes{Resolve: resolve, Dial: dial, Now: func() time.Time { return start }})
	env := &probe.Env{Reachability: []string{"intranet.example.com:443", "jump.corp.example:22", "files.corp.example:445",
		"10.0.0.5:3389", "192.0.2.7:22", "192.0.2.8:22", "not a target"}}
	v, err := p.Collect(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	probetest.Compare(t, v, filepath.Join(dir, "expected.json"))
}

// TestReachabilityConcurrent checks that targets are checked at once and
// that a target that hangs is cut at the connect deadline.
func TestReachabilityConcurrent(t *testing.T) {
	outcomes := map[string]error{}
	var targets []string
	for i := range 32 {
		addr := fmt.Sprintf("192.0.2.%d:443", i+1)
		outcomes[addr] = nil
		targets = append(targets, addr)
	}
	p := probe.NewTestReachability(probe.ReachFakes{Dial: fakeDialer(outcomes, 200*time.Millisecond)})
	start := time.Now()
	v, err := p.Collect(context.Background(), &probe.Env{Reachability: targets})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("32 targets of 200 ms took %s: not concurrent", d)
	}
	for _, tg := range v.(*probe.ReachabilityResult).Targets {
		if !tg.OK {
			t.Errorf("%+v", tg)
		}
	}
	if testing.Short() {
		return
	}
	hang := probe.NewTestReachability(probe.ReachFakes{Dial: fakeDialer(map[string]error{"192.0.2.1:443": nil}, time.Hour)})
	start = time.Now()
	v, _ = hang.Collect(context.Background(), &probe.Env{Reachability: []string{"192.0.2.1:443"}})
	tg := v.(*probe.ReachabilityResult).Targets[0]
	if d := time.Since(start); d > 4*time.Second || tg.OK || tg.Connect.Kind != "timeout" {
		t.Errorf("hanging target after %s: %+v", d, tg)
	}
}

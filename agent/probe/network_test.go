package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
	"github.com/sondehq/sonde/agent/proxy"
)

// stepClock is a clock that moves only when told to.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time          { return c.t }
func (c *stepClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func TestNetwork(t *testing.T) {
	cases := []struct {
		name      string
		collector func(c *stepClock) *probe.Collector
		lookup    func(c *stepClock, host string) ([]string, error)
	}{
		{
			name: "laptop",
			collector: func(c *stepClock) *probe.Collector {
				return &probe.Collector{Addr: "collector.example.com:7443",
					Handshake: func(context.Context) (time.Duration, error) {
						c.advance(41 * time.Millisecond)
						return 38250 * time.Microsecond, nil
					}}
			},
			lookup: func(c *stepClock, host string) ([]string, error) {
				c.advance(12345 * time.Microsecond)
				return []string{"2001:db8::7", "203.0.113.7"}, nil
			},
		},
		{
			name: "server",
			collector: func(c *stepClock) *probe.Collector {
				return &probe.Collector{Addr: "10.20.0.5:7443",
					Handshake: func(context.Context) (time.Duration, error) {
						c.advance(5 * time.Second)
						return 0, errors.New("timeout: no recent network activity")
					}}
			},
		},
		{
			name: "unresolved",
			collector: func(c *stepClock) *probe.Collector {
				return &probe.Collector{Addr: "collector.example.com:7443",
					Handshake: func(context.Context) (time.Duration, error) {
						t.Error("handshake attempted although the name did not resolve")
						return 0, nil
					}}
			},
			lookup: func(c *stepClock, host string) ([]string, error) {
				c.advance(3 * time.Millisecond)
				return nil, errors.New("lookup " + host + ": no such host")
			},
		},
		{
			// A server whose /proc names the processes that hold its
			// sockets, through their descriptors' links; no collector.
			name:      "owners",
			collector: func(*stepClock) *probe.Collector { return nil },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "network", tc.name)
			clock := newStepClock()
			p := probe.NewTestNetwork(probe.NetworkFakes{
				Interfaces: interfacesFrom(t, filepath.Join(dir, "interfaces.json")),
				LookupHost: func(_ context.Context, host string) ([]string, error) {
					if tc.lookup == nil {
						t.Errorf("lookup of %q although the collector is an address", host)
						return nil, errors.New("unexpected lookup")
					}
					return tc.lookup(clock, host)
				},
				Now: clock.now,
			})
			probetest.Golden(t, p, &probe.Env{Collector: tc.collector(clock)}, dir)

			ctx := probe.WithRoot(context.Background(), filepath.Join(dir, "root"))
			v, err := p.Collect(ctx, &probe.Env{Health: true, Collector: tc.collector(clock)})
			if err != nil {
				t.Fatal(err)
			}
			probetest.Compare(t, v, filepath.Join(dir, "expected-health.json"))
		})
	}
}

// TestNetworkCollector: while the agent holds a connection to the
// collector, the network probe reports it (transport, round trip, time up)
// and dials nothing, unless the request asks for a fresh handshake; with no
// live connection it times a fresh one. The name is resolved either way:
// a resolver that fails while the connection holds is worth knowing.
func TestNetworkCollector(t *testing.T) {
	resolves := func(c *stepClock, host string) ([]string, error) {
		c.advance(2500 * time.Microsecond)
		return []string{"203.0.113.7", "2001:db8::7"}, nil
	}
	fails := func(c *stepClock, host string) ([]string, error) {
		c.advance(3 * time.Millisecond)
		return nil, errors.New("lookup " + host + ": no such host")
	}
	quic := func(c *stepClock) (probe.LiveConn, bool) {
		return probe.LiveConn{Transport: "quic", RTT: 23456 * time.Microsecond, RTTVar: 4100 * time.Microsecond,
			Since: c.now().Add(-3*time.Hour - 1500*time.Millisecond)}, true
	}
	for _, tc := range []struct {
		name   string
		live   func(c *stepClock) (probe.LiveConn, bool)
		fresh  bool
		lookup func(c *stepClock, host string) ([]string, error)
		dials  int
	}{
		{name: "live", live: quic, lookup: resolves},
		{name: "live-unresolved", live: quic, lookup: fails},
		{name: "live-fresh", fresh: true, lookup: resolves, dials: 1, live: func(c *stepClock) (probe.LiveConn, bool) {
			// Over TCP, before its first ping came back.
			return probe.LiveConn{Transport: "tcp", Since: c.now().Add(-40 * time.Millisecond)}, true
		}},
		{name: "not-connected", lookup: resolves, dials: 1, live: func(*stepClock) (probe.LiveConn, bool) { return probe.LiveConn{}, false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "network", "laptop")
			clock := newStepClock()
			p := probe.NewTestNetwork(probe.NetworkFakes{
				Interfaces: interfacesFrom(t, filepath.Join(dir, "interfaces.json")),
				LookupHost: func(_ context.Context, host string) ([]string, error) { return tc.lookup(clock, host) },
				Now:        clock.now,
			})
			dials := 0
			env := &probe.Env{Collector: &probe.Collector{Addr: "collector.example.com:7443", Fresh: tc.fresh,
				Live: func() (probe.LiveConn, bool) { return tc.live(clock) },
				Handshake: func(context.Context) (time.Duration, error) {
					dials++
					clock.advance(61500 * time.Microsecond)
					return 0, nil
				}}}
			v, err := p.Collect(probe.WithRoot(context.Background(), filepath.Join(dir, "root")), env)
			if err != nil {
				t.Fatal(err)
			}
			if dials != tc.dials {
				t.Errorf("%d handshakes, want %d", dials, tc.dials)
			}
			probetest.Compare(t, v.(*probe.NetworkResult).Collector, filepath.Join("testdata", "network", "collector", tc.name+".json"))
		})
	}
}

// TestNetworkWindows reads the sockets, and their owners' PIDs, from
// Windows's owner-PID socket tables. The tables are written by hand after
// the documented row layouts (MIB_TCPROW_OWNER_PID and the others), as no
// Windows machine records them here; the owners' names are read on
// Windows through the processes probe's code, which this fixture has no
// processes for, so the sockets carry PIDs only.
func TestNetworkWindows(t *testing.T) {
	dir := filepath.Join("testdata", "network", "windows")
	p := probe.NewTestWindowsNetwork(probe.NetworkFakes{
		Interfaces: interfacesFrom(t, filepath.Join(dir, "interfaces.json")),
		Now:        newStepClock().now,
	}, dir)
	probetest.Golden(t, p, &probe.Env{}, dir)
}

// interfacesFrom fakes the kernel's interface list with a JSON file.
func interfacesFrom(t *testing.T, path string) func() ([]probe.NetworkInterface, error) {
	return func() ([]probe.NetworkInterface, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ifs []probe.NetworkInterface
		if err := json.Unmarshal(b, &ifs); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return ifs, nil
	}
}

func TestNetworkMissingProc(t *testing.T) {
	p := probe.NewTestNetwork(probe.NetworkFakes{
		Interfaces: func() ([]probe.NetworkInterface, error) { return nil, errors.New("netlink: permission denied") },
		Now:        time.Now,
	})
	ctx := probe.WithRoot(context.Background(), t.TempDir())
	v, err := p.Collect(ctx, &probe.Env{})
	if err != nil {
		t.Fatalf("a missing /proc is data, not a probe error: %v", err)
	}
	if r := v.(*probe.NetworkResult); len(r.Errors) != 5 {
		t.Errorf("want 5 errors (interfaces, counters, routes, sockets, resolv.conf), got %q", r.Errors)
	}
}

// TestNetworkIntercepted: a handshake that a TLS-inspecting proxy answered
// is reported with the proxy's issuer, for the collector.intercepted
// finding.
func TestNetworkIntercepted(t *testing.T) {
	dir := filepath.Join("testdata", "network", "server")
	clock := newStepClock()
	p := probe.NewTestNetwork(probe.NetworkFakes{Interfaces: interfacesFrom(t, filepath.Join(dir, "interfaces.json")), Now: clock.now})
	in := proxy.Interception{Target: "10.20.0.5:7443", Issuer: "CN=Example Inspection CA", Root: "CN=Example Root", NamesHost: true}
	env := &probe.Env{Collector: &probe.Collector{Addr: "10.20.0.5:7443",
		Handshake: func(context.Context) (time.Duration, error) {
			return 0, fmt.Errorf("connecting to 10.20.0.5:7443: %w", in)
		}}}
	v, err := p.Collect(probe.WithRoot(context.Background(), filepath.Join(dir, "root")), env)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	var got struct {
		Collector struct {
			Handshake   struct{ Error string }
			Intercepted *probe.NetworkInterception
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := probe.NetworkInterception{Issuer: "CN=Example Inspection CA", Root: "CN=Example Root", NamesHost: true}
	if got.Collector.Intercepted == nil || *got.Collector.Intercepted != want || got.Collector.Handshake.Error != "connecting to 10.20.0.5:7443: "+in.String() {
		t.Errorf("collector: %+v, intercepted %+v", got.Collector.Handshake, got.Collector.Intercepted)
	}
}

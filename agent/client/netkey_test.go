package client

import (
	"net"
	"slices"
	"strings"
	"testing"
)

const routeFixture = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
wlan0	00000000	FE01A8C0	0003	0	0	600	00000000	0	0	0
cni0	0000580A	00000000	0001	0	0	0	0000FFFF	0	0	0
tun0	00000000	00000000	0001	0	0	0	00000000	0	0	0
`

const route6Fixture = `00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`

func TestParseRoutes(t *testing.T) {
	// tun0's default route has no gateway (a point-to-point link).
	if got, want := parseRoutes([]byte(routeFixture)), []string{"192.0.2.1", "192.168.1.254"}; !slices.Equal(got, want) {
		t.Errorf("parseRoutes = %v, want %v", got, want)
	}
	if got, want := parseRoutes6([]byte(route6Fixture)), []string{"fe80::1"}; !slices.Equal(got, want) {
		t.Errorf("parseRoutes6 = %v, want %v", got, want)
	}
	if got := parseRoutes([]byte("garbage\n00000000 zz\n")); len(got) != 0 {
		t.Errorf("parseRoutes of garbage = %v", got)
	}
}

// FuzzParseRoutes: the route table parsers never panic and return only
// IP addresses, at most one a line.
func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte(routeFixture))
	f.Add([]byte(route6Fixture))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := strings.Count(string(b), "\n") + 1
		for _, got := range [][]string{parseRoutes(b), parseRoutes6(b)} {
			if len(got) > lines {
				t.Fatalf("%d gateways from %d lines", len(got), lines)
			}
			for _, ip := range got {
				if net.ParseIP(ip) == nil {
					t.Fatalf("gateway %q is not an IP", ip)
				}
			}
		}
	})
}

func TestNetworkKey(t *testing.T) {
	if a, b := networkKey(), networkKey(); a != b || !strings.Contains(a, "|") {
		t.Errorf("networkKey = %q then %q, want the same, gateways|addresses", a, b)
	}
}

// TestAddrGone: a connection's address is gone when the machine no longer
// has it; loopback and link-local addresses, which localAddrs leaves out,
// never are.
func TestAddrGone(t *testing.T) {
	now := []string{"10.1.2.3", "2001:db8::5"}
	for addr, want := range map[string]bool{
		"10.1.2.3:5000":      false,
		"[2001:db8::5]:5000": false,
		"192.168.1.9:5000":   true,
		"127.0.0.1:5000":     false,
		"[fe80::1]:5000":     false,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := addrGone(a, now); got != want {
			t.Errorf("addrGone(%s) = %v, want %v", addr, got, want)
		}
	}
}

package probe

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// ReadHex reads a recorded byte stream written as hex, with # comments.
func ReadHex(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			v, err := hex.DecodeString(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, v...)
		}
	}
	return out, nil
}

// Tools fakes the platform tools with recorded outputs, by the tool's name
// and arguments joined by spaces; Calls counts the tools run.
type Tools struct {
	Outputs map[string][]byte
	Calls   int
}

func (f *Tools) run(_ context.Context, limit int, name string, args ...string) ([]byte, bool, error) {
	f.Calls++
	cmd := strings.Join(append([]string{filepath.Base(name)}, args...), " ")
	out, ok := f.Outputs[cmd]
	if !ok {
		return nil, false, notAvailable("%s is not installed", name)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// hexNL80211 serves nl80211 dumps recorded in dir: interface.hex and
// station-<ifindex>.hex.
type hexNL80211 struct{ dir string }

func (h hexNL80211) Interfaces(context.Context) ([]byte, error) {
	return ReadHex(filepath.Join(h.dir, "interface.hex"))
}

func (h hexNL80211) Stations(_ context.Context, ifindex uint32) ([]byte, error) {
	return ReadHex(filepath.Join(h.dir, fmt.Sprintf("station-%d.hex", ifindex)))
}

// NewTestWifi returns a wifi probe that acts as on goos, asks nl80211
// dumps recorded in nlDir ("" for none) and runs tools from tools.
func NewTestWifi(goos, nlDir string, tools *Tools) Probe {
	p := &wifiProbe{goos: goos, run: tools.run}
	if nlDir != "" {
		p.nl = hexNL80211{nlDir}
	}
	return p
}

// NewTestVPN returns a vpn probe that acts as on goos, with the interface
// table ifs and the registry reg.
func NewTestVPN(goos string, ifs func() ([]NetworkInterface, error), reg winreg.Reader) Probe {
	return &vpnProbe{goos: goos, interfaces: ifs, reg: reg}
}

// NewTestProxy returns a proxy probe that acts as on goos, with the
// registry reg and the tools of tools.
func NewTestProxy(goos string, reg winreg.Reader, tools *Tools) Probe {
	return &proxyProbe{goos: goos, reg: reg, run: tools.run}
}

// NewTestSet returns a set of the given probes under the given names, so
// that a test sees what Set.Run adds to a probe's result (what was
// scrubbed).
func NewTestSet(probes map[string]Probe) *Set {
	s := &Set{probes: map[string]Probe{}, specs: map[string]Spec{}, locks: map[string]*sync.Mutex{}}
	for n, p := range probes {
		s.probes[n] = p
		s.locks[n] = new(sync.Mutex)
		s.names = append(s.names, n)
	}
	return s
}

// ReachFakes replaces the reachability probe's resolver, dialer and clock;
// a nil one is the real one.
type ReachFakes struct {
	Resolve func(ctx context.Context, network, host string) ([]netip.Addr, error)
	Dial    func(ctx context.Context, network, address string) (net.Conn, error)
	Now     func() time.Time
}

// NewTestReachability returns a reachability probe with f's fakes.
func NewTestReachability(f ReachFakes) Probe {
	d := &net.Dialer{}
	p := &reachProbe{resolve: net.DefaultResolver.LookupNetIP, dial: d.DialContext, now: time.Now}
	if f.Resolve != nil {
		p.resolve = f.Resolve
	}
	if f.Dial != nil {
		p.dial = f.Dial
	}
	if f.Now != nil {
		p.now = f.Now
	}
	return p
}

// hexNFT serves nftables dumps recorded in dir: tables.hex, chains.hex and
// rules.hex.
type hexNFT struct{ dir string }

func (h hexNFT) Dump(_ context.Context, cmd uint8) ([]byte, error) {
	name := map[uint8]string{nftMsgGetTable: "tables", nftMsgGetChain: "chains", nftMsgGetRule: "rules"}[cmd]
	return ReadHex(filepath.Join(h.dir, name+".hex"))
}

// NewTestSecurity returns a security probe that acts as on goos, with
// nftables dumps recorded in nftDir ("" for none), the registry reg and
// the tools of tools.
func NewTestSecurity(goos, nftDir string, reg winreg.Reader, tools *Tools) Probe {
	p := &securityProbe{goos: goos, reg: reg, run: tools.run}
	if nftDir != "" {
		p.nft = hexNFT{nftDir}
	}
	return p
}

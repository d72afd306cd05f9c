package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"time"

	"github.com/shirou/gopsutil/v3/common"
	gnet "github.com/shirou/gopsutil/v3/net"
	"github.com/sondehq/sonde/agent/proxy"
)

func init() {
	Register("network", Spec{Platforms: Everywhere}, func() Probe {
		return &networkProbe{
			interfaces: hostInterfaces,
			lookupHost: net.DefaultResolver.LookupHost,
			now:        time.Now,
			diag:       newDiag(),
			tables:     hostSocketTables,
			findOwners: hostOwnerSearch,
			procNet:    runtime.GOOS == "linux",
			resolvConf: runtime.GOOS != "windows",
		}
	})
}

// networkProbe reports interfaces, counters, default routes, DNS settings,
// listening sockets and whether the collector can be reached.
type networkProbe struct {
	// interfaces lists the host's interfaces with their addresses.
	interfaces func() ([]NetworkInterface, error)
	// lookupHost resolves the collector's host name.
	lookupHost func(ctx context.Context, host string) ([]string, error)
	// now times the reachability steps.
	now func() time.Time
	// diag lists sockets through the kernel's sock_diag; nil or failing,
	// the probe parses /proc/net instead.
	diag func(ctx context.Context, listen, estab *sockList) error
	// tables reads the socket tables that name each socket's owner
	// (Windows); nil where there are none.
	tables func() ([]socketTable, error)
	// findOwners finds the processes that hold the sockets of the given
	// inodes (Linux); nil where sockets have no inodes to look up.
	findOwners ownerSearch
	// ownerLimits bound the search for owners; zero means the defaults.
	ownerLimits ownerLimits
	// owned maps the socket inodes of the last call to the descriptors
	// that held them; unowned holds those that the last searches found no
	// process holding, and since when (see findInodeOwners).
	owned   map[uint64]fdRef
	unowned map[uint64]time.Time
	// procs names the sockets' owners, keeping what it read between calls
	// as the processes probe does.
	procs *processesProbe
	// procNet says whether routes and sockets can be read from /proc/net.
	procNet bool
	// resolvConf says whether the host has an /etc/resolv.conf.
	resolvConf bool
	// br reads the /proc files line by line, so that a large one never
	// sits whole in memory; it is reused because the probe is never run
	// concurrently with itself.
	br *bufio.Reader
}

// NetworkResult is the network probe's full result.
type NetworkResult struct {
	Interfaces    []NetworkInterface `json:"interfaces"`
	DefaultRoutes []NetworkRoute     `json:"default_routes"`
	DNS           *NetworkDNS        `json:"dns,omitempty"`
	Listening     []NetworkSocket    `json:"listening"`
	ListeningLeft int                `json:"listening_left_off,omitempty"`
	// Established lists established TCP connections (ESTABLISHED and
	// CLOSE-WAIT: what the kernel counts as established, RFC 1213's
	// tcpCurrEstab), at most maxEstablished; EstablishedLeft counts the
	// rest.
	Established     []NetworkSocket `json:"established"`
	EstablishedLeft int             `json:"established_left_off,omitempty"`
	// OwnersTruncated says the sockets' owners were looked for in part;
	// OwnersNote says why, or why they are not available here.
	OwnersTruncated bool                 `json:"owners_truncated,omitempty"`
	OwnersNote      string               `json:"owners_note,omitempty"`
	Collector       *NetworkReachability `json:"collector,omitempty"`
	Errors          []string             `json:"errors,omitempty"`
}

// NetworkInterface is one network interface and its counters.
type NetworkInterface struct {
	Name     string           `json:"name"`
	Index    int              `json:"index,omitempty"`
	MTU      int              `json:"mtu,omitempty"`
	Flags    []string         `json:"flags,omitempty"`
	MAC      string           `json:"mac,omitempty"`
	Addrs    []string         `json:"addrs,omitempty"`
	Counters *NetworkCounters `json:"counters,omitempty"`
}

// NetworkCounters are an interface's totals since boot.
type NetworkCounters struct {
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	RxDrops   uint64 `json:"rx_drops"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxErrors  uint64 `json:"tx_errors"`
	TxDrops   uint64 `json:"tx_drops"`
}

// NetworkReachability reports whether the collector can be reached: its
// name resolved (unless it is an address), then the connection the agent
// holds to it (Live), or a fresh handshake when it holds none or the
// request asked for one (Handshake). OK is the outcome of the fresh
// handshake when one was due, else the live connection's.
type NetworkReachability struct {
	Addr      string       `json:"addr"`
	Resolve   *NetworkStep `json:"resolve,omitempty"`
	Addresses []string     `json:"addresses,omitempty"`
	// Live is the agent's connection to the collector, as its transport
	// measures it; absent when it holds none.
	Live *NetworkLive `json:"live,omitempty"`
	// Handshake times a fresh connection (resolving excluded); absent when
	// the live connection was reported alone.
	Handshake *NetworkStep `json:"handshake,omitempty"`
	// Intercepted names the server that answered the handshake in the
	// collector's place, with a certificate the collector's CA did not
	// sign: a TLS-inspecting proxy, most often.
	Intercepted *NetworkInterception `json:"intercepted,omitempty"`
	OK          bool                 `json:"ok"`
}

// NetworkLive is the agent's connection to the collector: its transport
// ("quic" or "tcp"), its smoothed round trip and that round trip's mean
// deviation (absent until measured), and how long it has been up.
type NetworkLive struct {
	Transport string  `json:"transport"`
	RTTMS     float64 `json:"rtt_ms,omitempty"`
	RTTVarMS  float64 `json:"rtt_var_ms,omitempty"`
	UpS       int64   `json:"up_s"`
}

// NetworkInterception is a TLS-inspecting proxy (or another server) in
// the collector's place; see proxy.Interception.
type NetworkInterception struct {
	Issuer string `json:"issuer"`
	Root   string `json:"root,omitempty"`
	// NamesHost says its certificate is for the collector's name, as an
	// inspecting proxy forges it.
	NamesHost bool `json:"names_host"`
}

// NetworkStep is one timed step; Error is empty when it succeeded.
type NetworkStep struct {
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// NetworkHealth is the network probe's light result.
type NetworkHealth struct {
	Interfaces   []NetworkInterfaceHealth `json:"interfaces"`
	DefaultRoute bool                     `json:"default_route"` // Linux only
	Resolvers    int                      `json:"resolvers"`
	Errors       []string                 `json:"errors,omitempty"`
}

// NetworkInterfaceHealth is an interface's byte totals and its errors and
// drops in both directions.
type NetworkInterfaceHealth struct {
	Name    string `json:"name"`
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
	Errors  uint64 `json:"errors"`
	Drops   uint64 `json:"drops"`
}

func (p *networkProbe) Name() string { return "network" }

func (p *networkProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		return p.health(ctx), nil
	}
	r := &NetworkResult{}
	fail := func(what string, err error) {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	ifs, err := p.interfaces()
	if err != nil {
		fail("listing interfaces", err)
	}
	counters, err := p.counters(ctx)
	if err != nil {
		fail("reading interface counters", err)
	}
	r.Interfaces = mergeCounters(ifs, counters)
	if p.procNet {
		if r.DefaultRoutes, err = p.defaultRoutes(ctx, false); err != nil {
			fail("reading routes", err)
		}
	}
	switch {
	case p.procNet || p.tables != nil:
		if err := p.sockets(ctx, env, r); err != nil {
			fail("reading sockets", err)
		}
	default:
		r.OwnersNote = "listening sockets and their owners are not available here: this system lists them only through a tool (lsof, netstat), which the network probe does not run"
	}
	if p.resolvConf {
		if r.DNS, err = p.dns(ctx, true); err != nil {
			fail("reading resolver configuration", err)
		}
	}
	if env.Collector != nil {
		r.Collector = p.reach(ctx, env.Collector)
	}
	return r, nil
}

// health reads /proc/net/dev, /proc/net/route and /etc/resolv.conf only:
// no netlink, no sockets, no network traffic.
func (p *networkProbe) health(ctx context.Context) *NetworkHealth {
	h := &NetworkHealth{Interfaces: []NetworkInterfaceHealth{}}
	counters, err := p.counters(ctx)
	if err != nil {
		h.Errors = append(h.Errors, fmt.Sprintf("reading interface counters: %v", err))
	}
	for _, c := range counters {
		h.Interfaces = append(h.Interfaces, NetworkInterfaceHealth{
			Name: c.Name, RxBytes: c.RxBytes, TxBytes: c.TxBytes,
			Errors: c.RxErrors + c.TxErrors, Drops: c.RxDrops + c.TxDrops,
		})
	}
	if p.procNet {
		routes, err := p.defaultRoutes(ctx, true)
		if err != nil {
			h.Errors = append(h.Errors, fmt.Sprintf("reading routes: %v", err))
		}
		h.DefaultRoute = len(routes) > 0
	}
	if p.resolvConf {
		dns, err := p.dns(ctx, false)
		if err != nil {
			h.Errors = append(h.Errors, fmt.Sprintf("reading resolver configuration: %v", err))
		} else {
			h.Resolvers = len(dns.Nameservers)
		}
	}
	return h
}

// ifCounters are one interface's counters.
type ifCounters struct {
	Name string
	NetworkCounters
}

// counters reads the interface counters: /proc/net/dev on Linux,
// GetIfEntry2 on Windows. Elsewhere gopsutil would run netstat, and the
// agent never forks, so there are none.
func (p *networkProbe) counters(ctx context.Context) ([]ifCounters, error) {
	if !p.procNet {
		if runtime.GOOS != "windows" {
			return nil, nil
		}
		stats, err := gnet.IOCountersWithContext(ctx, true)
		out := make([]ifCounters, len(stats))
		for i, c := range stats {
			out[i] = ifCounters{c.Name, NetworkCounters{
				RxBytes: c.BytesRecv, RxPackets: c.PacketsRecv, RxErrors: c.Errin, RxDrops: c.Dropin,
				TxBytes: c.BytesSent, TxPackets: c.PacketsSent, TxErrors: c.Errout, TxDrops: c.Dropout,
			}}
		}
		if err != nil {
			return out, fmt.Errorf("querying the interface table: %w", err)
		}
		return out, nil
	}
	var out []ifCounters
	var fields [][]byte
	var v [12]uint64
	// "  eth0: rx bytes packets errs drop fifo frame compressed multicast
	// tx bytes packets errs drop ...", the first number sometimes touching
	// the colon.
	err := p.eachLine(procNetPath(ctx, "dev"), func(line []byte) {
		i := bytes.LastIndexByte(line, ':')
		if i < 0 {
			return
		}
		fields = splitFields(line[i+1:], fields, 12)
		if len(fields) < 12 {
			return
		}
		for j, f := range fields {
			var ok bool
			if v[j], ok = parseDec(f); !ok {
				return
			}
		}
		out = append(out, ifCounters{string(bytes.TrimSpace(line[:i])), NetworkCounters{
			RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDrops: v[3],
			TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDrops: v[11],
		}})
	})
	return out, err
}

// mergeCounters attaches the counters to the interfaces by name, keeping
// interfaces that only one of the two sources knows.
func mergeCounters(ifs []NetworkInterface, counters []ifCounters) []NetworkInterface {
	byName := make(map[string]int, len(ifs))
	for i := range ifs {
		byName[ifs[i].Name] = i
	}
	for _, c := range counters {
		nc := &c.NetworkCounters
		if i, ok := byName[c.Name]; ok {
			ifs[i].Counters = nc
			continue
		}
		ifs = append(ifs, NetworkInterface{Name: c.Name, Counters: nc})
	}
	if ifs == nil {
		ifs = []NetworkInterface{}
	}
	return ifs
}

// reach resolves the collector's host, unless it is an address, and
// reports the agent's live connection to the collector; it asks the
// agent's transport for a fresh handshake only when there is no live
// connection or c.Fresh asks. A failure is reported in the result, not as
// the probe's error.
func (p *networkProbe) reach(ctx context.Context, c *Collector) *NetworkReachability {
	r := &NetworkReachability{Addr: c.Addr}
	if c.Live != nil {
		if l, ok := c.Live(); ok {
			r.Live = &NetworkLive{Transport: l.Transport, RTTMS: millis(l.RTT), RTTVarMS: millis(l.RTTVar),
				UpS: int64(max(p.now().Sub(l.Since), 0) / time.Second)}
			r.OK = true
		}
	}
	resolved := p.resolve(ctx, r)
	if r.Live != nil && !c.Fresh {
		return r
	}
	r.OK = false
	r.Handshake = &NetworkStep{}
	if !resolved {
		r.Handshake.Error = "skipped: the collector's name did not resolve"
		return r
	}
	if c.Handshake == nil {
		r.Handshake.Error = "no handshake available"
		return r
	}
	start := p.now()
	d, err := c.Handshake(ctx)
	if d <= 0 {
		d = p.now().Sub(start)
	}
	r.Handshake.DurationMS = millis(d)
	if err != nil {
		r.Handshake.Error = err.Error()
		var in proxy.Interception
		if errors.As(err, &in) {
			r.Intercepted = &NetworkInterception{Issuer: in.Issuer, Root: in.Root, NamesHost: in.NamesHost}
		}
		return r
	}
	r.OK = true
	return r
}

// resolve looks the collector's host up, unless it is an address, into r;
// it reports whether the host is an address or resolved.
func (p *networkProbe) resolve(ctx context.Context, r *NetworkReachability) bool {
	host, _, err := net.SplitHostPort(r.Addr)
	if err != nil {
		host = r.Addr
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	start := p.now()
	addrs, err := p.lookupHost(ctx, host)
	r.Resolve = &NetworkStep{DurationMS: millis(p.now().Sub(start))}
	if err != nil {
		r.Resolve.Error = err.Error()
		return false
	}
	sort.Strings(addrs)
	r.Addresses = addrs
	return true
}

// millis converts d to milliseconds, keeping microseconds.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// eachLine calls fn with every line of the file at path, without its
// newline. The line is only valid during the call.
func (p *networkProbe) eachLine(path string, fn func(line []byte)) error {
	f, err := openProcFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if p.br == nil {
		p.br = bufio.NewReaderSize(f, 32<<10)
	} else {
		p.br.Reset(f)
	}
	defer p.br.Reset(nil)
	for {
		line, err := p.br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			fn(line)
		}
		if err == bufio.ErrBufferFull {
			// No /proc/net line comes near the buffer's size: skip the rest.
			for err == bufio.ErrBufferFull {
				_, err = p.br.ReadSlice('\n')
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading %s: %w", path, err)
		}
	}
}

// procNetPath names a file under the host's /proc/net.
func procNetPath(ctx context.Context, name string) string {
	return Path(ctx, common.HostProcEnvKey, "net", name)
}

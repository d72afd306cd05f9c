package findings

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

func init() {
	register("network", []string{"network.no-default-route", "network.interface-errors", "dns.no-resolvers"}, analyzeNetwork)
	// Apart, so that many stopped listeners never crowd the other network
	// findings out of one analyzer's bound.
	register("listeners", []string{"network.listener-stopped"}, analyzeListeners)
}

// networkData is what the network analyzers read of the network probe:
// the full variant's fields and the health variant's, whichever are
// present. Pointers tell a field absent (the probe could not read it on
// this system) from one empty.
type networkData struct {
	Interfaces []networkInterface `json:"interfaces"`
	// DefaultRoutes is null where routes are not read (not Linux).
	DefaultRoutes *[]struct {
		Interface string `json:"interface"`
	} `json:"default_routes"`
	DNS *struct {
		Nameservers []string `json:"nameservers"`
		Upstream    []string `json:"upstream_nameservers"`
	} `json:"dns"`
	Collector *reachability `json:"collector"`
	// Listening is null where sockets are not read (the health variant,
	// macOS); ListeningLeft counts the sockets the probe left off.
	Listening     *[]listener `json:"listening"`
	ListeningLeft int         `json:"listening_left_off"`
	Errors        []string    `json:"errors"`
	// Health variant; default_route is false where it is not read.
	DefaultRoute *bool `json:"default_route"`
	Resolvers    *int  `json:"resolvers"`
}

type networkInterface struct {
	Name     string `json:"name"`
	Counters *struct {
		RxPackets uint64 `json:"rx_packets"`
		RxErrors  uint64 `json:"rx_errors"`
		RxDrops   uint64 `json:"rx_drops"`
		TxPackets uint64 `json:"tx_packets"`
		TxErrors  uint64 `json:"tx_errors"`
		TxDrops   uint64 `json:"tx_drops"`
	} `json:"counters"`
}

// failedTo reports whether the probe said it could not read something:
// its errors start with what it was doing.
func (d *networkData) failedTo(what string) bool {
	for _, e := range d.Errors {
		if strings.HasPrefix(e, what) {
			return true
		}
	}
	return false
}

func analyzeNetwork(in *input) []Finding {
	var d networkData
	if !probe(in.doc, "network", &d) {
		return nil
	}
	var out []Finding
	noRoute := false
	switch {
	case d.DefaultRoutes != nil:
		noRoute = len(*d.DefaultRoutes) == 0 && !d.failedTo("reading routes")
	case d.DefaultRoute != nil:
		noRoute = !*d.DefaultRoute && in.os() == "linux" && !d.failedTo("reading routes")
	}
	if noRoute {
		out = append(out, Finding{
			ID: "network.no-default-route", Severity: Warning,
			Title:    "This machine has no default route: it cannot reach anything beyond its local network",
			Evidence: map[string]any{"default_routes": 0},
		})
	}
	noResolvers := false
	switch {
	case d.DNS != nil:
		noResolvers = len(d.DNS.Nameservers) == 0 && len(d.DNS.Upstream) == 0
	case d.Resolvers != nil:
		// The health variant says 0 where resolv.conf is not read.
		sys := in.os()
		noResolvers = *d.Resolvers == 0 && sys != "" && sys != "windows" && !d.failedTo("reading resolver configuration")
	}
	if noResolvers {
		out = append(out, Finding{
			ID: "dns.no-resolvers", Severity: Critical,
			Title:    "No DNS server is configured: names such as websites cannot be looked up",
			Evidence: map[string]any{"nameservers": 0},
		})
	}
	for _, ifc := range d.Interfaces {
		if f, ok := interfaceErrors(ifc); ok {
			out = append(out, f)
		}
	}
	return out
}

// interfaceErrors judges an interface's counters since boot, each
// direction apart.
func interfaceErrors(ifc networkInterface) (Finding, bool) {
	c := ifc.Counters
	if c == nil || ifc.Name == "" {
		return Finding{}, false
	}
	name := clip(ifc.Name)
	ev := map[string]any{"interface": name}
	var bad []string
	judge := func(dir, word string, packets, errs, drops uint64) {
		total := float64(packets) + float64(errs) + float64(drops)
		if total < InterfaceMinPackets {
			return
		}
		errRatio, dropRatio := float64(errs)/total, float64(drops)/total
		if errRatio >= InterfaceErrorRatio {
			bad = append(bad, fmt.Sprintf("%s of %s packets had errors", percent(errRatio), word))
		}
		if dropRatio >= InterfaceDropRatio {
			bad = append(bad, fmt.Sprintf("%s of %s packets were dropped", percent(dropRatio), word))
		}
		ev[dir+"_packets"], ev[dir+"_errors"], ev[dir+"_drops"] = packets, errs, drops
	}
	judge("rx", "received", c.RxPackets, c.RxErrors, c.RxDrops)
	judge("tx", "sent", c.TxPackets, c.TxErrors, c.TxDrops)
	if len(bad) == 0 {
		return Finding{}, false
	}
	return Finding{
		ID: "network.interface-errors", Severity: Warning, Subject: name, Evidence: ev,
		Title: fmt.Sprintf("The network interface %s is losing packets: %s", name, strings.Join(bad, ", ")),
	}, true
}

// listener is a listening socket as the network probe reports it, with
// the process that holds it where the probe could name it.
type listener struct {
	Proto   string `json:"proto"`
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	PID     int32  `json:"pid"`
	Process string `json:"process"`
	Cmdline string `json:"cmdline"`
	User    string `json:"user"`
}

// known says whether the probe named the listener's program.
func (l *listener) known() bool { return l.PID > 0 && l.Process != "" }

// tcpPort is what a snapshot says of one listening TCP port: the program
// that held it (of several, the named one of lowest PID) and its
// addresses.
type tcpPort struct {
	owner listener
	addrs []string
}

// maxListenerAddrs bounds the addresses a finding lists for one port.
const maxListenerAddrs = 8

// tcpPorts returns the listening TCP ports of doc's network result, and
// whether its list was cut short; ok is false when the sockets were not
// read (a health snapshot, macOS, a failure to read them).
func tcpPorts(doc *protocol.Document) (ports map[uint16]*tcpPort, cut, ok bool) {
	var d networkData
	if !probe(doc, "network", &d) || d.Listening == nil || d.failedTo("reading sockets") {
		return nil, false, false
	}
	ports = map[uint16]*tcpPort{}
	udp := false
	for _, l := range *d.Listening {
		if (l.Proto != "tcp" && l.Proto != "tcp6") || l.Port == 0 {
			udp = udp || l.Proto == "udp" || l.Proto == "udp6"
			continue
		}
		p := ports[l.Port]
		if p == nil {
			p = &tcpPort{}
			ports[l.Port] = p
		}
		if l.known() && (!p.owner.known() || l.PID < p.owner.PID) {
			p.owner = l
		}
		if len(p.addrs) < maxListenerAddrs && !slices.Contains(p.addrs, clip(l.Address)) {
			p.addrs = append(p.addrs, clip(l.Address))
		}
	}
	// The probe lists TCP before UDP: a list cut short that reached UDP
	// holds every TCP listener.
	return ports, d.ListeningLeft > 0 && !udp, true
}

// analyzeListeners finds the TCP ports that a named program listened on
// in the newest older snapshot that listed the listening sockets, and
// that nobody listens on now. It judges only what it can name: a listener
// whose program the probe could not see (a kernel socket; a process in
// another PID namespace, such as a container's, that comes and goes with
// it; any listener of a snapshot from before the probe named owners)
// raises nothing here, and the diff still shows it. A port from
// EphemeralPortStart up is often a tool's passing one (an editor's
// debugger, a test server): it counts only when the same program had it in
// the network snapshot before that one too.
func analyzeListeners(in *input) []Finding {
	now, cut, ok := tcpPorts(in.doc)
	if !ok || cut {
		return nil // not read, or cut short: a port missing may be one left off
	}
	var prev, older map[uint16]*tcpPort
	var since time.Time
	for _, h := range in.history {
		ports, _, ok := tcpPorts(h)
		if !ok {
			continue
		}
		if prev != nil {
			older = ports
			break
		}
		prev, since = ports, h.CapturedAt
	}
	var out []Finding
	for _, port := range slices.Sorted(maps.Keys(prev)) {
		p := prev[port]
		if now[port] != nil || !p.owner.known() {
			continue
		}
		if o := older[port]; port >= EphemeralPortStart && (o == nil || o.owner.Process != p.owner.Process) {
			continue
		}
		out = append(out, listenerStopped(port, p, since))
	}
	return out
}

// listenerStopped is the finding on port, which p's program stopped
// listening on after the snapshot taken at since.
func listenerStopped(port uint16, p *tcpPort, since time.Time) Finding {
	o := p.owner
	name := clipTo(o.Process, maxProgramName)
	ev := map[string]any{"port": port, "addresses": p.addrs, "process": name, "pid": o.PID}
	if o.Cmdline != "" {
		ev["cmdline"] = clip(o.Cmdline)
	}
	if o.User != "" {
		ev["user"] = clip(o.User)
	}
	if !since.IsZero() {
		ev["last_seen"] = since.UTC().Format(time.RFC3339)
	}
	subject := ":" + strconv.Itoa(int(port))
	return Finding{
		ID: "network.listener-stopped", Severity: Warning, Subject: subject, Evidence: ev,
		Title: fmt.Sprintf("The service on %s (%s, PID %d) stopped listening since the last snapshot", subject, name, o.PID),
	}
}

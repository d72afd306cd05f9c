package probe

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"net/netip"
	"sort"

	"github.com/shirou/gopsutil/v3/common"
)

// NetworkRoute is a default route.
type NetworkRoute struct {
	Family    string `json:"family"`
	Interface string `json:"interface"`
	Gateway   string `json:"gateway,omitempty"`
	Metric    uint32 `json:"metric"`
}

// NetworkDNS is the resolver configuration from /etc/resolv.conf.
type NetworkDNS struct {
	Nameservers []string `json:"nameservers"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
	// Upstream lists the servers behind systemd-resolved's local stub,
	// when resolv.conf points at it.
	Upstream []string `json:"upstream_nameservers,omitempty"`
}

// NetworkSocket is a listening TCP socket, a bound UDP one, or an
// established TCP connection, and the process that holds it.
type NetworkSocket struct {
	Proto   string `json:"proto"`
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	// RemoteAddress and RemotePort are an established connection's peer.
	RemoteAddress string `json:"remote_address,omitempty"`
	RemotePort    uint16 `json:"remote_port,omitempty"`
	// UID (the socket's owner) and Inode are the kernel's on Linux, where
	// kernel sockets have inode 0; Windows has neither, and names the
	// owner's user in User instead.
	UID   *uint32 `json:"uid,omitempty"`
	Inode uint64  `json:"inode,omitempty"`
	SocketOwner
}

// Route flags from linux/route.h and linux/ipv6_route.h.
const (
	rtfUp     = 0x1
	rtfReject = 0x200
)

// defaultRoutes reads the IPv4 and IPv6 default routes from /proc/net,
// sorted by family and metric. With firstOnly, an IPv4 one is enough.
func (p *networkProbe) defaultRoutes(ctx context.Context, firstOnly bool) ([]NetworkRoute, error) {
	routes := []NetworkRoute{}
	var fields [][]byte
	// Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses
	// are 32-bit words in host byte order.
	err := p.eachLine(procNetPath(ctx, "route"), func(line []byte) {
		fields = splitFields(line, fields, 8)
		if len(fields) < 8 {
			return
		}
		dst, ok1 := parseHex(fields[1])
		gw, ok2 := parseHex(fields[2])
		flags, ok3 := parseHex(fields[3])
		metric, ok4 := parseDec(fields[6])
		mask, ok5 := parseHex(fields[7])
		if !(ok1 && ok2 && ok3 && ok4 && ok5) || dst != 0 || mask != 0 || flags&rtfUp == 0 || flags&rtfReject != 0 {
			return
		}
		r := NetworkRoute{Family: "ipv4", Interface: string(fields[0]), Metric: uint32(metric)}
		if gw != 0 {
			var b [4]byte
			binary.NativeEndian.PutUint32(b[:], uint32(gw))
			r.Gateway = netip.AddrFrom4(b).String()
		}
		routes = append(routes, r)
	})
	if err != nil || firstOnly && len(routes) > 0 {
		return routes, err
	}
	// dst dst_len src src_len next_hop metric refcnt use flags iface;
	// addresses in network byte order, numbers in hex.
	err = p.eachLine(procNetPath(ctx, "ipv6_route"), func(line []byte) {
		fields = splitFields(line, fields, 10)
		if len(fields) < 10 || string(fields[1]) != "00" || string(fields[9]) == "lo" {
			return
		}
		dst, ok1 := parseIPv6(fields[0], false)
		gw, ok2 := parseIPv6(fields[4], false)
		metric, ok3 := parseHex(fields[5])
		flags, ok4 := parseHex(fields[8])
		if !(ok1 && ok2 && ok3 && ok4) || !dst.IsUnspecified() || flags&rtfUp == 0 || flags&rtfReject != 0 {
			return
		}
		r := NetworkRoute{Family: "ipv6", Interface: string(fields[9]), Metric: uint32(metric)}
		if !gw.IsUnspecified() {
			r.Gateway = gw.String()
		}
		routes = append(routes, r)
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil // IPv6 is disabled
	}
	sort.SliceStable(routes, func(i, j int) bool { // not slices.SortStableFunc: see sortUnits
		return cmp.Or(cmp.Compare(routes[i].Family, routes[j].Family), cmp.Compare(routes[i].Metric, routes[j].Metric)) < 0
	})
	return routes, err
}

// dns reads /etc/resolv.conf as glibc does: the last search or domain line
// wins. With upstream, it also reads the servers behind systemd-resolved's
// stub when resolv.conf points at it.
func (p *networkProbe) dns(ctx context.Context, upstream bool) (*NetworkDNS, error) {
	d := &NetworkDNS{Nameservers: []string{}}
	if err := p.readResolvConf(Path(ctx, common.HostEtcEnvKey, "resolv.conf"), d); err != nil {
		return nil, err
	}
	for _, ns := range d.Nameservers {
		if upstream && ns == "127.0.0.53" || ns == "127.0.0.54" {
			up := &NetworkDNS{}
			if p.readResolvConf(Path(ctx, common.HostRunEnvKey, "systemd", "resolve", "resolv.conf"), up) == nil {
				d.Upstream = up.Nameservers
			}
			break
		}
	}
	return d, nil
}

// readResolvConf adds the nameservers, search domains and options of the
// resolv.conf at path to d.
func (p *networkProbe) readResolvConf(path string, d *NetworkDNS) error {
	var fields [][]byte
	return p.eachLine(path, func(line []byte) {
		fields = splitFields(line, fields, 16)
		if len(fields) < 2 || fields[0][0] == '#' || fields[0][0] == ';' {
			return
		}
		switch string(fields[0]) {
		case "nameserver":
			d.Nameservers = append(d.Nameservers, string(fields[1]))
		case "search", "domain":
			d.Search = d.Search[:0]
			for _, f := range fields[1:] {
				d.Search = append(d.Search, string(f))
			}
		case "options":
			for _, f := range fields[1:] {
				d.Options = append(d.Options, string(f))
			}
		}
	})
}

// procSockets parses /proc/net/{tcp,tcp6,udp,udp6} into the listening
// TCP and bound UDP sockets, and the established TCP connections
// (ESTABLISHED and CLOSE-WAIT, as sock_diag's connectedStates).
func (p *networkProbe) procSockets(ctx context.Context, listen, estab *sockList) error {
	var fields [][]byte
	for _, t := range [...]struct {
		proto string
		v6    bool
	}{{"tcp", false}, {"tcp6", true}, {"udp", false}, {"udp6", true}} {
		tcp := t.proto[0] == 't'
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		err := p.eachLine(procNetPath(ctx, t.proto), func(line []byte) {
			fields = splitFields(line, fields, 10)
			if len(fields) < 10 {
				return
			}
			var into *sockList
			switch st := string(fields[3]); {
			case tcp && st == "0A", !tcp && st == "07":
				into = listen
			case tcp && (st == "01" || st == "08"):
				into = estab
			default:
				return
			}
			local, ok1 := parseProcAddr(fields[1], t.v6)
			remote, ok2 := parseProcAddr(fields[2], t.v6)
			uid, ok3 := parseDec(fields[7])
			inode, ok4 := parseDec(fields[9])
			if ok1 && ok2 && ok3 && ok4 {
				e := sockEntry{proto: t.proto, local: local, uid: uint32(uid), hasUID: true, inode: inode}
				if into == estab {
					e.remote = remote
				}
				into.add(e)
			}
		})
		if err != nil && !(t.v6 && errors.Is(err, fs.ErrNotExist)) {
			return err
		}
	}
	return nil
}

// snmpValue returns the value of field in the /proc/net/snmp table of
// prefix ("Tcp:"): a line of field names followed by a line of values,
// each starting with prefix. False when the table or the field is not
// there, or its value is not an unsigned number.
func snmpValue(b []byte, prefix, field string) (uint64, bool) {
	var names []byte
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\n"), []byte(prefix))
		if !ok {
			continue
		}
		if names == nil {
			names = rest
			continue
		}
		values := rest
		for {
			var name, value []byte
			name, names, _ = bytes.Cut(bytes.TrimLeft(names, " "), []byte{' '})
			value, values, _ = bytes.Cut(bytes.TrimLeft(values, " "), []byte{' '})
			if len(name) == 0 || len(value) == 0 {
				return 0, false
			}
			if string(name) == field {
				return parseDec(value)
			}
		}
	}
	return 0, false
}

// parseProcAddr decodes a /proc/net socket address, "0100007F:0016".
func parseProcAddr(b []byte, v6 bool) (netip.AddrPort, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	addr, ok1 := parseIPv6(b[:i], true)
	if !v6 {
		addr, ok1 = parseIPv4(b[:i])
	}
	port, ok2 := parseHex(b[i+1:])
	return netip.AddrPortFrom(addr, uint16(port)), ok1 && ok2 && port <= 0xffff
}

// splitFields splits line at runs of blanks into at most max fields,
// reusing dst; the last field is cut at the next blank like the others.
func splitFields(line []byte, dst [][]byte, max int) [][]byte {
	dst = dst[:0]
	for i := 0; i < len(line) && len(dst) < max; {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}

// parseHex parses up to 16 hexadecimal digits without allocating.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// parseDec parses a decimal number without allocating.
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseIPv4 decodes a /proc/net address: one 32-bit word in host order.
func parseIPv4(b []byte) (netip.Addr, bool) {
	v, ok := parseHex(b)
	if !ok || len(b) != 8 {
		return netip.Addr{}, false
	}
	var a [4]byte
	binary.NativeEndian.PutUint32(a[:], uint32(v))
	return netip.AddrFrom4(a), true
}

// parseIPv6 decodes 32 hex digits: four 32-bit words in host order in the
// socket tables (words), plain bytes in network order in ipv6_route.
func parseIPv6(b []byte, words bool) (netip.Addr, bool) {
	if len(b) != 32 {
		return netip.Addr{}, false
	}
	var a [16]byte
	for i := 0; i < 4; i++ {
		v, ok := parseHex(b[i*8 : i*8+8])
		if !ok {
			return netip.Addr{}, false
		}
		if words {
			binary.NativeEndian.PutUint32(a[i*4:], uint32(v))
		} else {
			binary.BigEndian.PutUint32(a[i*4:], uint32(v))
		}
	}
	return netip.AddrFrom16(a), true
}

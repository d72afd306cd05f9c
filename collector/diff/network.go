package diff

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
)

// networkData is what the diff reads of the network probe's full result.
// Its health result has none of the routes, DNS settings and listening
// sockets, and no addresses.
type networkData struct {
	Interfaces    []netInterface  `json:"interfaces"`
	DefaultRoutes json.RawMessage `json:"default_routes"`
	DNS           *dnsSettings    `json:"dns"`
	Listening     json.RawMessage `json:"listening"`
	ListeningLeft int             `json:"listening_left_off"`
	Errors        []string        `json:"errors"`
}

type netInterface struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

type route struct {
	Family    string `json:"family"`
	Interface string `json:"interface"`
	Gateway   string `json:"gateway"`
}

type dnsSettings struct {
	Nameservers []string `json:"nameservers"`
	Search      []string `json:"search"`
	Upstream    []string `json:"upstream_nameservers"`
}

// socket is a listening socket and, in snapshots since the probe names
// them, the process that holds it.
type socket struct {
	Proto   string `json:"proto"`
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	PID     int32  `json:"pid"`
	Process string `json:"process"`
	Cmdline string `json:"cmdline"`
}

// maxOwnerCmdline bounds an owner's command line quoted in a change.
const maxOwnerCmdline = 120

// full says whether the data is the probe's full result: only that one
// has the default routes and listening sockets (possibly empty or null).
func (d *networkData) full() bool {
	return len(d.DefaultRoutes) > 0 || len(d.Listening) > 0
}

// unread says whether the probe reported failing to read something; its
// errors start with what it was reading. A list it failed to read is not
// comparable, where a null one it read is empty.
func (d *networkData) unread(what string) bool {
	return slices.ContainsFunc(d.Errors, func(e string) bool { return strings.HasPrefix(e, what) })
}

// compareNetwork compares the interfaces and their addresses, the default
// routes, the DNS settings and the listening sockets.
func compareNetwork(s *Section, p pair) {
	var a, b networkData
	if !load(s, p, "network", &a, &b) {
		return
	}
	if !a.full() || !b.full() {
		s.note("not comparable: only full snapshots list the network's addresses, routes, DNS settings and listening ports")
		return
	}
	if a.unread("listing interfaces") || b.unread("listing interfaces") {
		s.note("interfaces not comparable: a snapshot did not list them")
	} else {
		compareInterfaces(s, &a, &b)
	}
	compareRoutes(s, &a, &b)
	compareDNS(s, a.DNS, b.DNS)
	compareListening(s, &a, &b)
}

// compareInterfaces compares the interfaces and the addresses of those on
// both sides.
func compareInterfaces(s *Section, a, b *networkData) {
	addrsA, addrsB := interfaces(a.Interfaces), interfaces(b.Interfaces)
	s.members("interface", sortedKeys(addrsA), sortedKeys(addrsB), true, true)
	for _, name := range sortedKeys(addrsA) {
		if after, ok := addrsB[name]; ok {
			s.members(name+" address", addrsA[name], after, true, true)
		}
	}
}

// interfaces maps each interface's name to its addresses.
func interfaces(list []netInterface) map[string][]string {
	m := make(map[string][]string, len(list))
	for _, i := range list {
		if i.Name != "" {
			m[i.Name] = append(m[i.Name], i.Addrs...)
		}
	}
	return m
}

// compareRoutes compares the default routes of each address family.
func compareRoutes(s *Section, a, b *networkData) {
	ra, oka := routes(a.DefaultRoutes)
	rb, okb := routes(b.DefaultRoutes)
	if !oka || !okb || a.unread("reading routes") || b.unread("reading routes") {
		s.note("default routes not comparable: a snapshot did not read them")
		return
	}
	for _, family := range sortedKeys(union(ra, rb)) {
		s.value("default route ("+family+")", ra[family], rb[family])
	}
}

// routes maps each address family to its default routes, described and
// joined; false when the routes are not a readable list.
func routes(raw json.RawMessage) (map[string]string, bool) {
	var list []route
	if !present(raw) {
		return map[string]string{}, true
	}
	if !decodeList(raw, &list) {
		return nil, false
	}
	byFamily := map[string][]string{}
	for _, r := range list {
		desc := "dev " + r.Interface
		if r.Gateway != "" {
			desc = "via " + r.Gateway + " " + desc
		}
		family := r.Family
		if family == "" {
			family = "unknown"
		}
		byFamily[family] = append(byFamily[family], desc)
	}
	m := make(map[string]string, len(byFamily))
	for family, descs := range byFamily {
		slices.Sort(descs)
		m[family] = strings.Join(slices.Compact(descs), "; ")
	}
	return m, true
}

// compareDNS compares the resolvers and search domains.
func compareDNS(s *Section, a, b *dnsSettings) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		s.note("DNS settings not comparable: a snapshot did not read them")
		return
	}
	s.members("DNS server", a.Nameservers, b.Nameservers, true, true)
	s.members("DNS upstream server", a.Upstream, b.Upstream, true, true)
	s.members("DNS search domain", a.Search, b.Search, true, true)
}

// compareListening compares the listening sockets, naming the program
// that held a socket gone away, or holds a new one, where the snapshot
// says; and the socket whose program changed, where both say (a program
// that restarted, with a new PID, is no change). A list cut short says
// nothing of the sockets it left off: when the earlier one was, no socket
// is said to be added; when the later one was, none is said to be removed.
func compareListening(s *Section, a, b *networkData) {
	la, oka := listening(a.Listening)
	lb, okb := listening(b.Listening)
	if !oka || !okb || a.unread("reading sockets") || b.unread("reading sockets") {
		s.note("listening ports not comparable: a snapshot did not read them")
		return
	}
	if a.ListeningLeft > 0 || b.ListeningLeft > 0 {
		s.note("listening ports compared in part: a snapshot left some off")
	}
	const subject = "listening port"
	for _, k := range sortedKeys(la) {
		if _, ok := lb[k]; !ok && b.ListeningLeft <= 0 {
			s.add(Change{Kind: Removed, Subject: subject, Before: k + ownerText(la[k], true)})
		}
	}
	for _, k := range sortedKeys(lb) {
		if _, ok := la[k]; !ok && a.ListeningLeft <= 0 {
			s.add(Change{Kind: Added, Subject: subject, After: k + ownerText(lb[k], true)})
		}
	}
	for _, k := range sortedKeys(la) {
		before, after := la[k], lb[k]
		if before.Process != "" && after.Process != "" && before.Process != after.Process {
			s.add(Change{Kind: Changed, Subject: subject + " " + k, Before: ownerText(before, false), After: ownerText(after, false)})
		}
	}
}

// listening maps each socket, described as "tcp 0.0.0.0:22", to the
// socket as read; of several on one address (a server's workers sharing
// it), the one whose owner is known and has the lowest PID. False when
// the sockets are not a readable list.
func listening(raw json.RawMessage) (map[string]socket, bool) {
	var list []socket
	if !present(raw) {
		return map[string]socket{}, true
	}
	if !decodeList(raw, &list) {
		return nil, false
	}
	out := make(map[string]socket, len(list))
	for _, k := range list {
		key := k.Proto + " " + net.JoinHostPort(k.Address, strconv.Itoa(int(k.Port)))
		if have, ok := out[key]; ok && (k.PID <= 0 || have.PID > 0 && have.PID <= k.PID) {
			continue
		}
		if k.PID <= 0 {
			k.Process, k.Cmdline = "", ""
		}
		out[key] = k
	}
	return out, true
}

// ownerText describes a socket's owner, "nginx, PID 1234, `nginx -g
// daemon off;`", in parentheses after a socket with paren; "" when the
// snapshot does not name it.
func ownerText(k socket, paren bool) string {
	if k.PID <= 0 {
		return ""
	}
	t := "PID " + strconv.Itoa(int(k.PID))
	if k.Process != "" {
		t = clip(k.Process, maxNoteText) + ", " + t
	}
	if k.Cmdline != "" {
		t += ", `" + clip(k.Cmdline, maxOwnerCmdline) + "`"
	}
	if paren {
		return " (" + t + ")"
	}
	return t
}

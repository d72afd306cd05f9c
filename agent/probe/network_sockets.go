package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// This file holds the network probe's sockets: listening ones and
// established TCP connections, read from the kernel (sock_diag or /proc/net
// on Linux, the owner-PID tables on Windows), bounded, and named after the
// processes that hold them (network_owner.go).

const (
	// maxSockets bounds the listening sockets reported.
	maxSockets = 500
	// maxEstablished bounds the established connections reported: a busy
	// server has tens of thousands, and the few hundred first by local
	// port (its services' side before its clients') tell what it serves.
	maxEstablished = 200
	// maxSocketsRead bounds the sockets of each list held to be sorted;
	// those beyond are only counted.
	maxSocketsRead = 20_000
)

// sockEntry is a socket as read from the kernel: compact and without
// strings, so that the sockets left off cost nothing more.
type sockEntry struct {
	proto         string // tcp, tcp6, udp, udp6
	local, remote netip.AddrPort
	uid           uint32
	inode         uint64
	// hasUID says uid is the kernel's (Linux).
	hasUID bool
	// pid is the owner where the socket table names it (Windows), or
	// where the owner search found it (Linux); 0 when unknown.
	pid int32
}

// sockList collects sockets up to max and counts those beyond.
type sockList struct {
	items []sockEntry
	max   int
	more  int
}

func newSockList() *sockList { return &sockList{max: maxSocketsRead} }

func (l *sockList) add(e sockEntry) {
	if len(l.items) < l.max {
		l.items = append(l.items, e)
		return
	}
	l.more++
}

func (l *sockList) reset() { l.items, l.more = l.items[:0], 0 }

// bounded sorts the sockets by protocol, local port and address, peer and
// inode, keeps the first n and says how many it left off. What it keeps
// is copied out, so that the result does not hold on to a long list.
func (l *sockList) bounded(n int) ([]sockEntry, int) {
	slices.SortFunc(l.items, func(a, b sockEntry) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.local.Port(), b.local.Port()),
			a.local.Addr().Compare(b.local.Addr()), a.remote.Addr().Compare(b.remote.Addr()),
			cmp.Compare(a.remote.Port(), b.remote.Port()), cmp.Compare(a.inode, b.inode))
	})
	if len(l.items) <= n {
		return l.items, l.more
	}
	return slices.Clone(l.items[:n]), l.more + len(l.items) - n
}

// socket turns e into what the probe reports, with its owner.
func (e *sockEntry) socket(owners map[int32]SocketOwner) NetworkSocket {
	s := NetworkSocket{Proto: e.proto, Address: e.local.Addr().String(), Port: e.local.Port(), Inode: e.inode}
	if e.hasUID {
		s.UID = &e.uid // e lives in its list as long as s
	}
	if e.remote.IsValid() {
		s.RemoteAddress, s.RemotePort = e.remote.Addr().String(), e.remote.Port()
	}
	if e.pid > 0 {
		s.SocketOwner = owners[e.pid]
		s.PID = e.pid
	}
	return s
}

// sockets fills r's listening sockets and established connections, each
// list bounded, and names their owners.
func (p *networkProbe) sockets(ctx context.Context, env *Env, r *NetworkResult) error {
	listen, estab := newSockList(), newSockList()
	if err := p.readSockets(ctx, listen, estab); err != nil {
		return err
	}
	ls, lLeft := listen.bounded(maxSockets)
	es, eLeft := estab.bounded(maxEstablished)
	owners, err := p.owners(ctx, env, ls, es, r)
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("finding the sockets' owners: %v", err))
	}
	r.Listening, r.ListeningLeft = make([]NetworkSocket, len(ls)), lLeft
	for i := range ls {
		r.Listening[i] = ls[i].socket(owners)
	}
	r.Established, r.EstablishedLeft = make([]NetworkSocket, len(es)), eLeft
	for i := range es {
		r.Established[i] = es[i].socket(owners)
	}
	return nil
}

// readSockets reads the sockets: from the owner-PID tables where the probe
// has them (Windows), else through sock_diag and, without it (an old
// kernel, udp_diag not loaded), from /proc/net.
func (p *networkProbe) readSockets(ctx context.Context, listen, estab *sockList) error {
	if p.tables != nil {
		tables, err := p.tables()
		for _, t := range tables {
			if perr := t.parse(listen, estab); perr != nil {
				err = errors.Join(err, perr)
			}
		}
		return err
	}
	err := errors.ErrUnsupported
	if p.diag != nil {
		err = p.diag(ctx, listen, estab)
	}
	if err != nil {
		listen.reset()
		estab.reset()
		return p.procSockets(ctx, listen, estab)
	}
	return nil
}

package probe

import "context"

// HostInterfaces is the network probe's reader of the real host's
// interfaces, for tests that compare it with Go's.
var HostInterfaces = hostInterfaces

// DiagSockets and ProcSockets read the listening sockets and the
// established connections through sock_diag and from /proc/net (under
// ctx's host root), for tests that compare the two.
func DiagSockets(ctx context.Context) (listen, estab []NetworkSocket, err error) {
	l, e := newSockList(), newSockList()
	err = diagSockets(ctx, l, e)
	return sockets(l), sockets(e), err
}

// ProcSockets: see DiagSockets.
func ProcSockets(ctx context.Context) (listen, estab []NetworkSocket, err error) {
	l, e := newSockList(), newSockList()
	err = (&networkProbe{}).procSockets(ctx, l, e)
	return sockets(l), sockets(e), err
}

func sockets(l *sockList) []NetworkSocket {
	out := make([]NetworkSocket, len(l.items))
	for i := range l.items {
		out[i] = l.items[i].socket(nil)
	}
	return out
}

// CurrEstab is the kernel's count of established TCP connections, by
// which the probe skips the walk of the established hash.
func CurrEstab(ctx context.Context) (uint64, bool) {
	c, ok := readTCPCounters(ctx)
	return c.currEstab, ok
}

// NewTestNetworkReadlink is NewTestNetwork with the search for sockets'
// owners reading descriptors' links with readlink.
func NewTestNetworkReadlink(f NetworkFakes, readlink func(dirfd int, path string, buf []byte) (int, error)) Probe {
	p := NewTestNetwork(f).(*networkProbe)
	p.findOwners = ownerSearchWith(readlink)
	return p
}

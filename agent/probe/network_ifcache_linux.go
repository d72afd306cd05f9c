package probe

import (
	"errors"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// interfaceCache keeps the interface list between calls, with a netlink
// socket subscribed to the kernel's link and address notifications: the
// list is dumped again only when one arrived since (or the socket's small
// buffer overflowed with them). Dumping links and addresses costs about
// 0.1–0.3 ms; asking the socket whether anything arrived, one system
// call. The subscription is made before the dump it guards, so a change
// during a dump is seen at the next call. Without a subscription (a
// kernel refusing it), every call dumps.
type interfaceCache struct {
	dump func() ([]NetworkInterface, error)
	mu   sync.Mutex
	sub  int // the subscribed socket, -1 when there is none
	list []NetworkInterface
	ok   bool // list is current as of the last look at sub
	// gen counts the dumps: what else is read of the interfaces (the vpn
	// and wifi probes' sysfs files) is current while it does not move.
	gen uint64
}

// interfaceGroups are the rtnetlink multicast groups whose messages say
// that an interface, or an address, changed.
const interfaceGroups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR

// get returns the interfaces, dumped again when they may have changed.
// The list is the caller's to change.
func (c *interfaceCache) get() ([]NetworkInterface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.refresh()
	return cloneInterfaces(c.list), err
}

// generation returns the count of dumps, dumping again first when the
// interfaces may have changed; false when nothing tells their changes (no
// subscription), so that every call is a change.
func (c *interfaceCache) generation() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.refresh()
	return c.gen, err == nil && c.ok
}

// refresh dumps the interfaces again unless the subscription says
// nothing changed since the last dump. c.mu is held.
func (c *interfaceCache) refresh() error {
	if c.ok && !c.changed() {
		return nil
	}
	if c.sub < 0 {
		c.sub = subscribeInterfaces()
	}
	list, err := c.dump()
	c.gen++
	c.list, c.ok = list, err == nil && c.sub >= 0
	return err
}

// changed drains what the subscription received since the last call and
// says whether there was anything; a socket that fails otherwise is
// closed, to be opened again.
func (c *interfaceCache) changed() bool {
	var buf [512]byte // the messages are not read, only counted
	for n := 0; ; n++ {
		_, _, err := unix.Recvfrom(c.sub, buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return n > 0
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS):
			n++ // notifications were lost: something changed
		default:
			unix.Close(c.sub)
			c.sub = -1
			return true
		}
	}
}

// subscribeInterfaces opens a netlink socket subscribed to interfaceGroups
// with the smallest receive buffer: an overflow only says, as a message
// would, that something changed. It returns -1 when the kernel refuses.
func subscribeInterfaces() int {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: interfaceGroups}); err != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// cloneInterfaces copies list down to its slices, so that what one caller
// does with its copy never shows in the cache or in another's.
func cloneInterfaces(list []NetworkInterface) []NetworkInterface {
	if list == nil {
		return nil
	}
	out := slices.Clone(list)
	for i := range out {
		out[i].Flags = slices.Clone(out[i].Flags)
		out[i].Addrs = slices.Clone(out[i].Addrs)
		if c := out[i].Counters; c != nil {
			cc := *c
			out[i].Counters = &cc
		}
	}
	return out
}

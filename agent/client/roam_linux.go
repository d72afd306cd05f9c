package client

import (
	"context"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// addrChanges signals when the kernel reports an address added or removed
// (rtnetlink's address groups), until ctx ends. The socket is read through
// Go's poller: no thread waits on it. Without netlink, it polls. Its
// goroutine is in wg.
func addrChanges(ctx context.Context, wg *sync.WaitGroup) <-chan struct{} {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return pollChanges(ctx, wg)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return pollChanges(ctx, wg)
	}
	f := os.NewFile(uintptr(fd), "rtnetlink")
	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	wg.Go(func() {
		defer stop()
		defer f.Close()
		buf := make([]byte, 16<<10)
		for {
			// What changed does not matter: the watcher reads the
			// addresses again. Messages lost to a full buffer
			// (ENOBUFS) are news too.
			if _, err := f.Read(buf); err != nil && !errors.Is(err, unix.ENOBUFS) {
				return // closed at ctx's end
			}
			signal(ch)
		}
	})
	return ch
}

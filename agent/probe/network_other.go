//go:build !linux

package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// diagSockets needs Linux's NETLINK_SOCK_DIAG.
func diagSockets(context.Context, *sockList, *sockList) error {
	return errors.ErrUnsupported
}

// newDiag returns diagSockets: there is no sock_diag to keep a walk of.
func newDiag() func(ctx context.Context, listen, estab *sockList) error { return diagSockets }

// hostOwnerSearch is nil: sockets have inodes to look up among the
// processes' descriptors only on Linux (Windows's socket tables name their
// owners).
var hostOwnerSearch ownerSearch

// openProcFile opens a file of the host's /etc for reading.
func openProcFile(path string) (io.ReadCloser, error) { return os.Open(path) }

// hostLinkGen is Linux's: elsewhere nothing tells the interfaces'
// changes, and the probes read them at every call.
var hostLinkGen func() (uint64, bool)

// hostInterfaces lists the interfaces through the kernel.
func hostInterfaces() ([]NetworkInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("reading the interface table: %w", err)
	}
	out := make([]NetworkInterface, 0, len(ifs))
	for _, ifi := range ifs {
		ni := NetworkInterface{Name: ifi.Name, Index: ifi.Index, MTU: ifi.MTU, MAC: ifi.HardwareAddr.String()}
		if ifi.Flags != 0 {
			ni.Flags = strings.Split(ifi.Flags.String(), "|")
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ni.Addrs = append(ni.Addrs, a.String())
		}
		out = append(out, ni)
	}
	return out, nil
}

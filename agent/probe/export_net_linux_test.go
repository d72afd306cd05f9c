package probe

import "context"

// HostInterfaces, DiagSockets and ProcSockets are the network probe's
// readers of the real host, for tests that compare them with each other.
var (
	HostInterfaces = hostInterfaces
	DiagSockets    = diagSockets
)

// ProcSockets parses the sockets in /proc/net, under ctx's host root.
func ProcSockets(ctx context.Context) ([]NetworkSocket, error) {
	return (&networkProbe{}).procSockets(ctx)
}

package client

import "os"

// defaultGateways reads the default routes' gateways from the kernel.
func defaultGateways() []string {
	var out []string
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		out = append(out, parseRoutes(b)...)
	}
	if b, err := os.ReadFile("/proc/net/ipv6_route"); err == nil {
		out = append(out, parseRoutes6(b)...)
	}
	return out
}

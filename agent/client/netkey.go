package client

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
)

// networkKey names the network the machine is on, for remembering where
// UDP is blocked: its default gateways and its addresses. Where the
// gateway cannot be read (defaultGateways is Linux-only), the addresses
// alone name it.
func networkKey() string {
	return strings.Join(defaultGateways(), ",") + "|" + strings.Join(localAddrs(), ",")
}

// maxRoutes bounds the lines of a route table read.
const maxRoutes = 4096

// parseRoutes returns the gateways of the default routes in Linux's
// /proc/net/route (IPv4: hex in host byte order, little-endian on every
// machine Sonde runs on).
func parseRoutes(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan() && n < maxRoutes; n++ {
		f := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags ...; RTF_GATEWAY is 0x2.
		if len(f) < 4 || f[1] != "00000000" {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x2 == 0 {
			continue
		}
		gw, err := hex.DecodeString(f[2])
		if err != nil || len(gw) != 4 {
			continue
		}
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, binary.LittleEndian.Uint32(gw))
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parseRoutes6 returns the gateways of the default routes in Linux's
// /proc/net/ipv6_route (destination, its length, source, its length, next
// hop, all hex, network byte order).
func parseRoutes6(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan() && n < maxRoutes; n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[1] != "00" || strings.Trim(f[0], "0") != "" {
			continue
		}
		hop, err := hex.DecodeString(f[4])
		if err != nil || len(hop) != 16 {
			continue
		}
		ip := net.IP(hop)
		if ip.IsUnspecified() {
			continue
		}
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

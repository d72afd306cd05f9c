package probe

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

func init() {
	// Every platform reads files, the registry or the interface table: a
	// default probe.
	Register("vpn", Spec{Platforms: Everywhere}, func() Probe {
		return &vpnProbe{goos: runtime.GOOS, interfaces: hostInterfaces, reg: winreg.Live(),
			linux: linkMemo[tunnelsRead]{gen: hostLinkGen}}
	})
}

// vpnProbe lists the interfaces that are tunnels (WireGuard, tun/tap, PPP,
// IP-in-IP and GRE, and the virtual adapters of VPN clients on Windows),
// each with the evidence that made it one, its state and its addresses.
// It does not read routes: a full tunnel often routes through policy
// tables (wg-quick) or two half-default routes (OpenVPN), which the main
// table's default route does not show.
type vpnProbe struct {
	goos string
	// interfaces lists the interfaces with flags and addresses, as the
	// network probe reads them.
	interfaces func() ([]NetworkInterface, error)
	reg        winreg.Reader
	// linux keeps linuxTunnels' result while the interfaces are unchanged.
	linux linkMemo[tunnelsRead]
}

// tunnelsRead is what linuxTunnels returned.
type tunnelsRead struct {
	tunnels []VPNTunnel
	err     error
}

// maxTunnels bounds the tunnels reported.
const maxTunnels = 32

// VPNResult is the vpn probe's result; no tunnel is an empty list.
type VPNResult struct {
	Tunnels     []VPNTunnel `json:"tunnels"`
	TunnelsLeft int         `json:"tunnels_left_off,omitempty"`
	Errors      []string    `json:"errors,omitempty"`
}

// VPNTunnel is one tunnel interface.
type VPNTunnel struct {
	Name string `json:"name"`
	// Kind is wireguard, tun, tap, ppp, ipip, ip6tnl, sit, gre, ip6gre,
	// tunnel (a Linux type-none device, such as xfrm) or the VPN client
	// (wintun, tap-windows, anyconnect, globalprotect, fortinet ...);
	// "unknown" when only the name suggests a tunnel.
	Kind     string   `json:"kind"`
	Evidence []string `json:"evidence"`
	// Driver is the adapter's driver description (Windows).
	Driver string `json:"driver,omitempty"`
	// Up says whether the interface is administratively up; Present is
	// false for a Windows adapter that is installed but has no interface.
	Up        bool     `json:"up"`
	Present   bool     `json:"present"`
	OperState string   `json:"oper_state,omitempty"`
	MTU       int      `json:"mtu,omitempty"`
	Addrs     []string `json:"addrs,omitempty"`
}

func (p *vpnProbe) Name() string { return "vpn" }

func (p *vpnProbe) Collect(ctx context.Context, env *Env) (any, error) {
	r := &VPNResult{Tunnels: []VPNTunnel{}}
	ifs, err := p.interfaces()
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("listing interfaces: %v", err))
	}
	var tunnels []VPNTunnel
	switch p.goos {
	case "linux":
		got := p.linux.get(func() tunnelsRead { t, err := linuxTunnels(ctx); return tunnelsRead{t, err} })
		tunnels, err = slices.Clone(got.tunnels), got.err
	case "windows":
		tunnels, err = windowsTunnels(p.reg)
	default:
		tunnels = namedTunnels(ifs)
	}
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	byName := make(map[string]*NetworkInterface, len(ifs))
	for i := range ifs {
		byName[ifs[i].Name] = &ifs[i]
	}
	for i := range tunnels {
		t := &tunnels[i]
		if ni, ok := byName[t.Name]; ok {
			t.Present = true
			t.Up = slices.Contains(ni.Flags, "up")
			t.MTU = ni.MTU
			t.Addrs = ni.Addrs[:min(len(ni.Addrs), 16)]
		}
	}
	if len(tunnels) > maxTunnels {
		r.TunnelsLeft = len(tunnels) - maxTunnels
		tunnels = tunnels[:maxTunnels]
	}
	r.Tunnels = append(r.Tunnels, tunnels...)
	return r, nil
}

// Linux interface types (linux/if_arp.h) that are tunnels.
var tunnelTypes = map[string]string{
	"512": "ppp", "768": "ipip", "769": "ip6tnl", "776": "sit", "778": "gre", "823": "ip6gre", "65534": "tunnel",
}

// fallbackTunnels are the devices the kernel makes when a tunnel module
// loads, to receive unmatched packets; they carry no one's traffic.
var fallbackTunnels = map[string]bool{
	"tunl0": true, "sit0": true, "gre0": true, "gretap0": true, "erspan0": true, "ip6tnl0": true,
	"ip6gre0": true, "ip_vti0": true, "ip6_vti0": true,
}

// notTunnels are device types that are never tunnels whatever their name.
var notTunnels = map[string]bool{"bond": true, "bridge": true, "vlan": true, "macvlan": true, "ipvlan": true, "wlan": true}

// tunnelNames are name prefixes of tunnels: the evidence of last resort.
var tunnelNames = []string{"wg", "tun", "tap", "ppp", "ipsec", "vti", "xfrm", "utun", "tailscale", "nordlynx", "cscotun", "gpd"}

// linuxTunnels reads each interface of /sys/class/net: its uevent's
// DEVTYPE, its type, and tun_flags (tun and tap devices only).
func linuxTunnels(ctx context.Context) ([]VPNTunnel, error) {
	sysNet := Path(ctx, common.HostSysEnvKey, "class", "net")
	names, _, err := listNames(sysNet, "", 1024)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var out []VPNTunnel
	for _, n := range names {
		dir := sysNet + "/" + n
		var devtype string
		if b, _, err := readCapped(dir+"/uevent", 4096); err == nil {
			for line := range bytes.Lines(b) {
				if v, ok := bytes.CutPrefix(line, []byte("DEVTYPE=")); ok {
					devtype = string(bytes.TrimSpace(v))
				}
			}
		}
		if notTunnels[devtype] || fallbackTunnels[n] {
			continue
		}
		typ, _ := readTrimmed(dir + "/type")
		t := VPNTunnel{Name: cleanText(n, 64)}
		if devtype != "" {
			t.Evidence = append(t.Evidence, "DEVTYPE="+cleanText(devtype, 32))
		}
		if devtype == "wireguard" {
			t.Kind = "wireguard"
		}
		if flags, err := readTrimmed(dir + "/tun_flags"); err == nil {
			t.Evidence = append(t.Evidence, "tun_flags "+cleanText(flags, 16))
			if f, err := strconv.ParseUint(strings.TrimPrefix(flags, "0x"), 16, 32); err == nil && t.Kind == "" {
				t.Kind = map[bool]string{true: "tap", false: "tun"}[f&0x2 != 0] // IFF_TAP, else IFF_TUN
			}
		}
		if k, ok := tunnelTypes[typ]; ok {
			t.Evidence = append(t.Evidence, "type "+typ)
			if t.Kind == "" {
				t.Kind = k
			}
		}
		if t.Kind == "" && hasTunnelName(n) {
			t.Kind = "unknown"
		}
		if t.Kind == "" {
			continue
		}
		if hasTunnelName(n) {
			t.Evidence = append(t.Evidence, "name")
		}
		st, _ := readTrimmed(dir + "/operstate")
		t.OperState = cleanText(st, 32)
		out = append(out, t)
	}
	return out, nil
}

func hasTunnelName(n string) bool {
	for _, p := range tunnelNames {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// namedTunnels picks the tunnels out of the interface table by name, the
// only evidence macOS gives without a tool: utun (WireGuard, Tailscale
// and most VPN clients, and macOS itself), ipsec, ppp.
func namedTunnels(ifs []NetworkInterface) []VPNTunnel {
	var out []VPNTunnel
	for _, ni := range ifs {
		if !hasTunnelName(ni.Name) {
			continue
		}
		t := VPNTunnel{Name: cleanText(ni.Name, 64), Kind: strings.TrimRight(ni.Name, "0123456789"), Evidence: []string{"name"}}
		if linkLocalOnly(ni.Addrs) {
			t.Evidence = append(t.Evidence, "only link-local addresses (macOS keeps such utun interfaces for itself)")
		}
		out = append(out, t)
	}
	return out
}

// linkLocalOnly says whether every address is an IPv6 link-local one.
func linkLocalOnly(addrs []string) bool {
	for _, a := range addrs {
		if !strings.HasPrefix(a, "fe80:") {
			return false
		}
	}
	return true
}

// Registry keys of Windows' network adapters.
const (
	netClassKey   = `HKLM\SYSTEM\CurrentControlSet\Control\Class\{4d36e972-e325-11ce-bfc1-08002be10318}`
	netConnection = `HKLM\SYSTEM\CurrentControlSet\Control\Network\{4D36E972-E325-11CE-BFC1-08002BE10318}`
)

// vpnDrivers maps words of an adapter's driver description or component
// id to the VPN client that installs it.
var vpnDrivers = []struct{ word, kind string }{
	{"wintun", "wintun"},
	{"wireguard", "wireguard"},
	{"tap-windows", "tap-windows"},
	{"tap0901", "tap-windows"},
	{"openvpn data channel offload", "openvpn-dco"},
	{"anyconnect", "anyconnect"},
	{"cisco systems vpn", "anyconnect"},
	{"pangp", "globalprotect"},
	{"globalprotect", "globalprotect"},
	{"fortinet", "fortinet"},
	{"fortissl", "fortinet"},
	{"juniper", "pulse"},
	{"pulse secure", "pulse"},
	{"zscaler", "zscaler"},
	{"check point virtual network", "checkpoint"},
	{"sonicwall", "sonicwall"},
	{"nordlynx", "nordlynx"},
	{"zerotier", "zerotier"},
}

// windowsTunnels finds the adapters of VPN drivers among the network class
// keys (0000, 0001 ...) and names each by its connection. Windows' own
// VPN (IKEv2, SSTP, L2TP through the WAN miniports) is left out: its
// miniports exist whether or not a connection is up.
func windowsTunnels(reg winreg.Reader) ([]VPNTunnel, error) {
	keys, err := reg.Subkeys(netClassKey)
	if err != nil {
		return nil, fmt.Errorf("listing network adapters: %w", err)
	}
	var out []VPNTunnel
	for _, k := range keys {
		if len(k) != 4 || strings.Trim(k, "0123456789") != "" {
			continue // Properties, Configuration
		}
		v, err := reg.Values(netClassKey + `\` + k)
		if err != nil {
			continue
		}
		desc, comp := v["DriverDesc"].Text(), v["ComponentId"].Text()
		kind := ""
		haystack := strings.ToLower(desc + " " + comp)
		for _, d := range vpnDrivers {
			if strings.Contains(haystack, d.word) {
				kind = d.kind
				break
			}
		}
		if kind == "" {
			continue
		}
		id := v["NetCfgInstanceId"].Text()
		t := VPNTunnel{Kind: kind, Driver: cleanText(desc, 128), Evidence: []string{"driver " + cleanText(comp, 64)}}
		if c, err := reg.Values(netConnection + `\` + id + `\Connection`); err == nil {
			t.Name = cleanText(c["Name"].Text(), 128)
		}
		if t.Name == "" {
			t.Name = cleanText(id, 64)
		}
		out = append(out, t)
	}
	return out, nil
}

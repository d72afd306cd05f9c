package findings

import (
	"fmt"
	"strings"
)

func init() {
	register("network", []string{"network.no-default-route", "network.interface-errors", "dns.no-resolvers"}, analyzeNetwork)
}

// networkData is what the network analyzers read of the network probe:
// the full variant's fields and the health variant's, whichever are
// present. Pointers tell a field absent (the probe could not read it on
// this system) from one empty.
type networkData struct {
	Interfaces []networkInterface `json:"interfaces"`
	// DefaultRoutes is null where routes are not read (not Linux).
	DefaultRoutes *[]struct {
		Interface string `json:"interface"`
	} `json:"default_routes"`
	DNS *struct {
		Nameservers []string `json:"nameservers"`
		Upstream    []string `json:"upstream_nameservers"`
	} `json:"dns"`
	Collector *reachability `json:"collector"`
	Errors    []string      `json:"errors"`
	// Health variant; default_route is false where it is not read.
	DefaultRoute *bool `json:"default_route"`
	Resolvers    *int  `json:"resolvers"`
}

type networkInterface struct {
	Name     string `json:"name"`
	Counters *struct {
		RxPackets uint64 `json:"rx_packets"`
		RxErrors  uint64 `json:"rx_errors"`
		RxDrops   uint64 `json:"rx_drops"`
		TxPackets uint64 `json:"tx_packets"`
		TxErrors  uint64 `json:"tx_errors"`
		TxDrops   uint64 `json:"tx_drops"`
	} `json:"counters"`
}

// failedTo reports whether the probe said it could not read something:
// its errors start with what it was doing.
func (d *networkData) failedTo(what string) bool {
	for _, e := range d.Errors {
		if strings.HasPrefix(e, what) {
			return true
		}
	}
	return false
}

func analyzeNetwork(in *input) []Finding {
	var d networkData
	if !probe(in.doc, "network", &d) {
		return nil
	}
	var out []Finding
	noRoute := false
	switch {
	case d.DefaultRoutes != nil:
		noRoute = len(*d.DefaultRoutes) == 0 && !d.failedTo("reading routes")
	case d.DefaultRoute != nil:
		noRoute = !*d.DefaultRoute && in.os() == "linux" && !d.failedTo("reading routes")
	}
	if noRoute {
		out = append(out, Finding{
			ID: "network.no-default-route", Severity: Warning,
			Title:    "This machine has no default route: it cannot reach anything beyond its local network",
			Evidence: map[string]any{"default_routes": 0},
		})
	}
	noResolvers := false
	switch {
	case d.DNS != nil:
		noResolvers = len(d.DNS.Nameservers) == 0 && len(d.DNS.Upstream) == 0
	case d.Resolvers != nil:
		// The health variant says 0 where resolv.conf is not read.
		sys := in.os()
		noResolvers = *d.Resolvers == 0 && sys != "" && sys != "windows" && !d.failedTo("reading resolver configuration")
	}
	if noResolvers {
		out = append(out, Finding{
			ID: "dns.no-resolvers", Severity: Critical,
			Title:    "No DNS server is configured: names such as websites cannot be looked up",
			Evidence: map[string]any{"nameservers": 0},
		})
	}
	for _, ifc := range d.Interfaces {
		if f, ok := interfaceErrors(ifc); ok {
			out = append(out, f)
		}
	}
	return out
}

// interfaceErrors judges an interface's counters since boot, each
// direction apart.
func interfaceErrors(ifc networkInterface) (Finding, bool) {
	c := ifc.Counters
	if c == nil || ifc.Name == "" {
		return Finding{}, false
	}
	name := clip(ifc.Name)
	ev := map[string]any{"interface": name}
	var bad []string
	judge := func(dir, word string, packets, errs, drops uint64) {
		total := float64(packets) + float64(errs) + float64(drops)
		if total < InterfaceMinPackets {
			return
		}
		errRatio, dropRatio := float64(errs)/total, float64(drops)/total
		if errRatio >= InterfaceErrorRatio {
			bad = append(bad, fmt.Sprintf("%s of %s packets had errors", percent(errRatio), word))
		}
		if dropRatio >= InterfaceDropRatio {
			bad = append(bad, fmt.Sprintf("%s of %s packets were dropped", percent(dropRatio), word))
		}
		ev[dir+"_packets"], ev[dir+"_errors"], ev[dir+"_drops"] = packets, errs, drops
	}
	judge("rx", "received", c.RxPackets, c.RxErrors, c.RxDrops)
	judge("tx", "sent", c.TxPackets, c.TxErrors, c.TxDrops)
	if len(bad) == 0 {
		return Finding{}, false
	}
	return Finding{
		ID: "network.interface-errors", Severity: Warning, Subject: name, Evidence: ev,
		Title: fmt.Sprintf("The network interface %s is losing packets: %s", name, strings.Join(bad, ", ")),
	}, true
}

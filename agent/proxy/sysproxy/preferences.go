package sysproxy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/agent/probe/plist"
)

// PreferencesFile is where macOS keeps the network configuration the
// SystemConfiguration framework serves, proxies included.
const PreferencesFile = "/Library/Preferences/SystemConfiguration/preferences.plist"

// PreferencesSource is the Source of the settings Preferences returns.
const PreferencesSource = "SystemConfiguration preferences"

// Preferences reads the proxy settings of macOS's network configuration
// (PreferencesFile): those of the current set's first network service, in
// its service order, that is active and has proxy settings, as the system
// applies them to the primary service. It reads the file, never running a
// tool; what it cannot find it says.
func Preferences(b []byte) ([]Setting, error) {
	top, err := plist.ParseDict(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PreferencesSource, err)
	}
	set, _ := top.String("CurrentSet") // "/Sets/<id>"
	sets, _ := top["Sets"].(plist.Dict)
	cur, _ := sets[strings.TrimPrefix(set, "/Sets/")].(plist.Dict)
	services, _ := top["NetworkServices"].(plist.Dict)
	for _, id := range serviceOrder(cur) {
		svc, ok := services[id].(plist.Dict)
		if !ok {
			continue
		}
		if _, inactive := svc["__INACTIVE__"]; inactive {
			continue
		}
		if proxies, ok := svc["Proxies"].(plist.Dict); ok {
			return proxiesOf(flatten(proxies), PreferencesSource), nil
		}
	}
	return nil, fmt.Errorf("%s: no active network service of the current set has proxy settings", PreferencesSource)
}

// serviceOrder is a set's Network → Global → IPv4 → ServiceOrder.
func serviceOrder(set plist.Dict) []string {
	network, _ := set["Network"].(plist.Dict)
	global, _ := network["Global"].(plist.Dict)
	ipv4, _ := global["IPv4"].(plist.Dict)
	order, _ := ipv4["ServiceOrder"].([]any)
	var ids []string
	for _, v := range order {
		if id, ok := v.(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// flatten turns a property list's proxy dictionary into what scutil
// prints: scalars as text (integers and booleans as 0 or 1), arrays of
// scalars.
func flatten(d plist.Dict) scutilDict {
	out := scutilDict{Scalars: map[string]string{}, Arrays: map[string][]string{}}
	for k, v := range d {
		if list, ok := v.([]any); ok {
			var items []string
			for _, e := range list {
				if s, ok := scalar(e); ok {
					items = append(items, s)
				}
			}
			out.Arrays[k] = items
			continue
		}
		if s, ok := scalar(v); ok {
			out.Scalars[k] = s
		}
	}
	return out
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case bool:
		if v {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

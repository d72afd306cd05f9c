package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"

	"github.com/shirou/gopsutil/v3/common"
)

func init() {
	// On Linux the probe reads /sys, /proc/net/wireless and two nl80211
	// dumps, cheap enough for every snapshot. Windows and macOS give Wi-Fi
	// details only through a tool (netsh, system_profiler, which takes
	// seconds), so there it is heavy: it runs when named.
	Register("wifi", Spec{Heavy: runtime.GOOS != "linux", Platforms: Everywhere}, func() Probe {
		return &wifiProbe{goos: runtime.GOOS, nl: newNL80211(), run: runTool, wireless: linkMemo[wirelessRead]{gen: hostLinkGen}}
	})
}

// wifiProbe reports each Wi-Fi interface's network, signal and rates.
type wifiProbe struct {
	goos string
	// nl asks the kernel's nl80211 (Linux); nil without it.
	nl nl80211Source
	// run runs netsh or system_profiler.
	run toolRunner
	// wireless keeps linuxWireless' result while the interfaces are
	// unchanged.
	wireless linkMemo[wirelessRead]
}

// wirelessRead is what linuxWireless returned.
type wirelessRead struct {
	ifs []WifiInterface
	err error
}

// nl80211Source returns the raw answers of two nl80211 dumps.
type nl80211Source interface {
	Interfaces(ctx context.Context) ([]byte, error)
	Stations(ctx context.Context, ifindex uint32) ([]byte, error)
}

// maxWifi bounds the interfaces reported.
const maxWifi = 16

// WifiResult is the wifi probe's result.
type WifiResult struct {
	Interfaces []WifiInterface `json:"interfaces"`
	// Source says where the data came from: "nl80211" (with /sys and
	// /proc/net/wireless), "proc" when nl80211 could not be asked,
	// "netsh", "system_profiler".
	Source string   `json:"source"`
	Errors []string `json:"errors,omitempty"`
}

// WifiInterface is one Wi-Fi interface and its connection.
type WifiInterface struct {
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	// State is the interface's operational state (Linux) or the tool's
	// word for the connection.
	State        string `json:"state,omitempty"`
	SSID         string `json:"ssid,omitempty"`
	FrequencyMHz int    `json:"frequency_mhz,omitempty"`
	// Band is "2.4GHz", "5GHz", "6GHz" or "60GHz", from the frequency or
	// the tool.
	Band         string `json:"band,omitempty"`
	Channel      int    `json:"channel,omitempty"`
	ChannelWidth int    `json:"channel_width_mhz,omitempty"`
	// SignalDBM is the received signal strength (last frame, else the
	// driver's level); below about -70 dBm a link is weak, below -80
	// barely usable. Windows reports it only from Windows 11 24H2.
	SignalDBM    *int `json:"signal_dbm,omitempty"`
	SignalAvgDBM *int `json:"signal_avg_dbm,omitempty"`
	NoiseDBM     *int `json:"noise_dbm,omitempty"`
	// LinkQuality is the driver's link quality from /proc/net/wireless,
	// on the driver's own scale (most use 0-70).
	LinkQuality *float64 `json:"link_quality,omitempty"`
	// QualityPercent is Windows' signal quality in percent.
	QualityPercent *int    `json:"quality_percent,omitempty"`
	TxRateMbps     float64 `json:"tx_rate_mbps,omitempty"`
	RxRateMbps     float64 `json:"rx_rate_mbps,omitempty"`
	ConnectedS     uint32  `json:"connected_s,omitempty"`
	PHYMode        string  `json:"phy_mode,omitempty"`
	Security       string  `json:"security,omitempty"`
}

func (p *wifiProbe) Name() string { return "wifi" }

func (p *wifiProbe) Collect(ctx context.Context, env *Env) (any, error) {
	switch p.goos {
	case "linux":
		return p.linux(ctx)
	case "windows":
		if env.Health {
			return nil, errHealthTool
		}
		out, _, err := p.run(ctx, 256<<10, "netsh", "wlan", "show", "interfaces")
		if err != nil {
			return nil, fmt.Errorf("asking netsh: %w", err)
		}
		return wifiResult(parseNetshWlan(out), "netsh")
	case "darwin":
		if env.Health {
			return nil, errHealthTool
		}
		out, _, err := p.run(ctx, 1<<20, "system_profiler", "-json", "SPAirPortDataType")
		if err != nil {
			return nil, fmt.Errorf("asking system_profiler: %w", err)
		}
		ifs, err := parseAirPort(out)
		if err != nil {
			return nil, err
		}
		return wifiResult(ifs, "system_profiler")
	}
	return nil, notAvailable("no Wi-Fi reader for %s", p.goos)
}

// wifiResult wraps what a tool listed, or says there is no Wi-Fi.
func wifiResult(ifs []WifiInterface, source string) (*WifiResult, error) {
	if len(ifs) == 0 {
		return nil, notAvailable("%s lists no Wi-Fi interface", source)
	}
	return &WifiResult{Interfaces: ifs[:min(len(ifs), maxWifi)], Source: source}, nil
}

// linux finds the Wi-Fi interfaces in /sys/class/net (those with a
// wireless/ folder or a phy80211 link), reads /proc/net/wireless, and asks
// nl80211 for the network, frequency, signal and rates.
func (p *wifiProbe) linux(ctx context.Context) (*WifiResult, error) {
	got := p.wireless.get(func() wirelessRead { ifs, err := linuxWireless(ctx); return wirelessRead{ifs, err} })
	if got.err != nil {
		return nil, got.err
	}
	r := &WifiResult{Interfaces: slices.Clone(got.ifs), Source: "nl80211"}
	proc := map[string]procWireless{}
	if b, _, err := readCapped(procNetPath(ctx, "wireless"), 64<<10); err == nil {
		proc = parseProcWireless(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		r.Errors = append(r.Errors, fmt.Sprintf("reading /proc/net/wireless: %v", err))
	}
	nl, err := p.nlInterfaces(ctx)
	if err != nil {
		r.Source = "proc"
		r.Errors = append(r.Errors, err.Error())
	}
	for i := range r.Interfaces {
		w := &r.Interfaces[i]
		w.Connected = w.State == "up"
		if pw, ok := proc[w.Name]; ok {
			w.LinkQuality, w.SignalDBM, w.NoiseDBM = pw.Link, pw.Level, pw.Noise
		}
		if ifc, ok := nl[w.Name]; ok {
			if err := p.addNL80211(ctx, w, ifc); err != nil {
				r.Errors = append(r.Errors, err.Error())
			}
		}
	}
	return r, nil
}

// linuxWireless lists the wireless interfaces of /sys/class/net (those
// with wireless/ or phy80211) and their link state.
func linuxWireless(ctx context.Context) ([]WifiInterface, error) {
	sysNet := Path(ctx, common.HostSysEnvKey, "class", "net")
	names, _, err := listNames(sysNet, "", 1024)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	ifs := []WifiInterface{}
	for _, n := range names {
		if !sysPathExists(sysNet, n, "wireless") && !sysPathExists(sysNet, n, "phy80211") {
			continue
		}
		if len(ifs) == maxWifi {
			break
		}
		state, _ := readTrimmed(sysNet + "/" + n + "/operstate")
		ifs = append(ifs, WifiInterface{Name: cleanText(n, 64), State: cleanText(state, 32)})
	}
	if len(ifs) == 0 {
		return nil, notAvailable("no Wi-Fi interface (none in /sys/class/net has wireless/ or phy80211)")
	}
	return ifs, nil
}

// nlInterfaces asks nl80211 for its interfaces, by name.
func (p *wifiProbe) nlInterfaces(ctx context.Context) (map[string]nlIface, error) {
	if p.nl == nil {
		return nil, errors.New("nl80211: not available in this build")
	}
	b, err := p.nl.Interfaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("nl80211 interfaces: %w", err)
	}
	ifs, err := parseNL80211Interfaces(b)
	out := make(map[string]nlIface, len(ifs))
	for _, ifc := range ifs {
		out[ifc.Name] = ifc
	}
	if err != nil {
		return out, fmt.Errorf("nl80211 interfaces: %w", err)
	}
	return out, nil
}

// addNL80211 fills w from nl80211: the network and frequency, and for a
// client, the signal and rates of its access point.
func (p *wifiProbe) addNL80211(ctx context.Context, w *WifiInterface, ifc nlIface) error {
	w.SSID = cleanText(string(ifc.SSID), 64)
	w.Connected = len(ifc.SSID) > 0
	if ifc.FreqMHz != 0 {
		w.FrequencyMHz = int(ifc.FreqMHz)
		w.Band, w.Channel = wifiBand(w.FrequencyMHz)
		w.ChannelWidth = ifc.WidthMHz
	}
	if ifc.Type != nl80211IftypeStation || !w.Connected {
		return nil
	}
	b, err := p.nl.Stations(ctx, ifc.Index)
	if err != nil {
		return fmt.Errorf("nl80211 stations of %s: %w", w.Name, err)
	}
	sts, err := parseNL80211Stations(b)
	if len(sts) > 0 {
		st := sts[0] // a client has one station: its access point
		if st.SignalDBM != nil {
			w.SignalDBM = st.SignalDBM
		}
		w.SignalAvgDBM, w.TxRateMbps, w.RxRateMbps, w.ConnectedS = st.SignalAvgDBM, st.TxMbps, st.RxMbps, st.ConnectedS
	}
	if err != nil {
		return fmt.Errorf("nl80211 stations of %s: %w", w.Name, err)
	}
	return nil
}

// wifiBand names the band of a frequency and gives its channel number.
func wifiBand(mhz int) (string, int) {
	switch {
	case mhz == 2484:
		return "2.4GHz", 14
	case mhz >= 2400 && mhz < 2500:
		return "2.4GHz", (mhz - 2407) / 5
	case mhz == 5935:
		return "6GHz", 2
	case mhz >= 5950 && mhz <= 7125:
		return "6GHz", (mhz - 5950) / 5
	case mhz >= 4900 && mhz < 5935:
		return "5GHz", (mhz - 5000) / 5
	case mhz >= 57000 && mhz <= 71000:
		return "60GHz", (mhz - 56160) / 2160
	}
	return "", 0
}

// procWireless is one line of /proc/net/wireless.
type procWireless struct {
	Link         *float64
	Level, Noise *int
}

// parseProcWireless parses /proc/net/wireless: two header lines, then
// "  wlan0: 0000   54.  -56.  -256        0 ...": status, then link
// quality, signal and noise levels, each ending in a dot when the driver
// updated it. Levels are in dBm on every current driver; a few old ones
// write them as unsigned bytes (200 for -56). A noise of -256 means none.
func parseProcWireless(b []byte) map[string]procWireless {
	out := map[string]procWireless{}
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(out) == maxWifi {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 4 {
			continue
		}
		var pw procWireless
		if v, err := strconv.ParseFloat(string(bytes.TrimSuffix(f[1], []byte{'.'})), 64); err == nil {
			pw.Link = &v
		}
		pw.Level = procLevel(f[2])
		pw.Noise = procLevel(f[3])
		out[cleanText(string(bytes.TrimSpace(name)), 64)] = pw
	}
	return out
}

// procLevel parses a /proc/net/wireless level in dBm.
func procLevel(f []byte) *int {
	v, err := strconv.Atoi(string(bytes.TrimSuffix(f, []byte{'.'})))
	if err != nil || v <= -256 || v > 255 || v == 0 {
		return nil // 0: the driver does not say
	}
	if v > 0 {
		v -= 256
	}
	return &v
}

// sysPathExists says whether the path made of parts exists.
func sysPathExists(parts ...string) bool {
	p := parts[0]
	for _, s := range parts[1:] {
		p += "/" + s
	}
	_, err := os.Stat(p)
	return err == nil
}

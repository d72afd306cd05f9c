package probe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// This file parses what Windows' netsh and macOS' system_profiler say of
// Wi-Fi; wifi.go runs them.

// parseNetshWlan parses `netsh wlan show interfaces`: one block of
// "    Key   : Value" lines per interface, each starting with Name. netsh
// writes in the display language whatever the locale, so only English
// labels are understood; another language gives no interfaces.
func parseNetshWlan(b []byte) []WifiInterface {
	var out []WifiInterface
	var w *WifiInterface
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() && len(out) <= maxWifi {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), cleanText(strings.TrimSpace(v), 128)
		if k == "Name" {
			out = append(out, WifiInterface{Name: v})
			w = &out[len(out)-1]
			continue
		}
		if w == nil {
			continue
		}
		switch k {
		case "State":
			w.State = v
			w.Connected = v == "connected"
		case "SSID":
			w.SSID = v
		case "Radio type":
			w.PHYMode = v
		case "Authentication":
			w.Security = v
		case "Band":
			w.Band = strings.ReplaceAll(v, " ", "")
		case "Channel":
			w.Channel, _ = strconv.Atoi(v)
		case "Receive rate (Mbps)":
			w.RxRateMbps, _ = strconv.ParseFloat(v, 64)
		case "Transmit rate (Mbps)":
			w.TxRateMbps, _ = strconv.ParseFloat(v, 64)
		case "Signal":
			if q, err := strconv.Atoi(strings.TrimSuffix(v, "%")); err == nil && q >= 0 && q <= 100 {
				w.QualityPercent = &q
			}
		case "Rssi":
			if d, err := strconv.Atoi(v); err == nil && d < 0 && d > -150 {
				w.SignalDBM = &d
			}
		}
	}
	for i := range out {
		if w := &out[i]; w.Band == "" && w.Channel > 0 && w.Channel <= 14 {
			w.Band = "2.4GHz" // above 14, the channel alone cannot tell 5 from 6 GHz
		}
	}
	return out[:min(len(out), maxWifi)]
}

// airPort is the part of `system_profiler -json SPAirPortDataType` the
// probe reads.
type airPort struct {
	Data []struct {
		Interfaces []struct {
			Name    string `json:"_name"`
			Status  string `json:"spairport_status_information"`
			Current *struct {
				SSID     string          `json:"_name"`
				Channel  json.RawMessage `json:"spairport_network_channel"`
				PHYMode  string          `json:"spairport_network_phymode"`
				Rate     json.Number     `json:"spairport_network_rate"`
				Security string          `json:"spairport_security_mode"`
				Signal   string          `json:"spairport_signal_noise"`
			} `json:"spairport_current_network_information"`
		} `json:"spairport_airport_interfaces"`
	} `json:"SPAirPortDataType"`
}

// parseAirPort parses system_profiler's Wi-Fi report. Its channel is a
// number on older macOS and "44 (5GHz, 80MHz)" on newer; its signal is
// "-78 dBm / -92 dBm" (signal / noise). Since macOS 14.4 the SSID reads
// "<redacted>" unless the caller has location access.
func parseAirPort(b []byte) ([]WifiInterface, error) {
	var ap airPort
	if err := json.Unmarshal(b, &ap); err != nil {
		return nil, fmt.Errorf("parsing system_profiler's report: %w", err)
	}
	var out []WifiInterface
	for _, d := range ap.Data {
		for _, ifc := range d.Interfaces {
			if ifc.Status == "" && ifc.Current == nil {
				continue // awdl0, llw0: Apple's peer-to-peer links
			}
			w := WifiInterface{Name: cleanText(ifc.Name, 64), State: cleanText(strings.TrimPrefix(ifc.Status, "spairport_status_"), 32)}
			w.Connected = w.State == "connected"
			if c := ifc.Current; c != nil {
				w.SSID = cleanText(c.SSID, 64)
				w.PHYMode = cleanText(c.PHYMode, 32)
				w.Security = cleanText(strings.TrimPrefix(c.Security, "spairport_security_mode_"), 64)
				w.TxRateMbps, _ = c.Rate.Float64()
				w.Channel, w.Band, w.ChannelWidth = airPortChannel(c.Channel)
				w.SignalDBM, w.NoiseDBM = airPortSignal(c.Signal)
			}
			if len(out) < maxWifi {
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// airPortChannel parses 44, "44" or "44 (5GHz, 80MHz)".
func airPortChannel(raw json.RawMessage) (channel int, band string, width int) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, "", 0
		}
		s = n.String()
	}
	num, rest, _ := strings.Cut(s, " ")
	channel, _ = strconv.Atoi(num)
	for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == '(' || r == ')' || r == ',' || r == ' ' }) {
		switch {
		case strings.HasSuffix(f, "GHz"):
			band = cleanText(f, 8)
		case strings.HasSuffix(f, "MHz"):
			width, _ = strconv.Atoi(strings.TrimSuffix(f, "MHz"))
		}
	}
	if band == "" && channel > 0 && channel <= 14 {
		band = "2.4GHz"
	}
	return channel, band, width
}

// airPortSignal parses "-78 dBm / -92 dBm".
func airPortSignal(s string) (signal, noise *int) {
	sig, nse, _ := strings.Cut(s, "/")
	parse := func(f string) *int {
		v, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "dBm")))
		if err != nil || v >= 0 || v < -150 {
			return nil
		}
		return &v
	}
	return parse(sig), parse(nse)
}

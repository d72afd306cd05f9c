package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Generic netlink and nl80211 numbers (linux/genetlink.h, linux/nl80211.h),
// kept here so this parser builds everywhere; netlink_linux_test.go checks
// them against golang.org/x/sys/unix.
const (
	genlIDCtrl         = 0x10
	ctrlCmdGetFamily   = 3
	ctrlAttrFamilyID   = 1
	ctrlAttrFamilyName = 2

	nl80211CmdGetInterface = 5
	nl80211CmdGetStation   = 0x11

	nl80211AttrIfindex      = 3
	nl80211AttrIfname       = 4
	nl80211AttrIftype       = 5
	nl80211AttrStaInfo      = 0x15
	nl80211AttrWiphyFreq    = 0x26
	nl80211AttrSSID         = 0x34
	nl80211AttrChannelWidth = 0x9f

	nl80211IftypeStation = 2

	nl80211StaInfoSignal        = 7
	nl80211StaInfoTxBitrate     = 8
	nl80211StaInfoSignalAvg     = 0xd
	nl80211StaInfoRxBitrate     = 0xe
	nl80211StaInfoConnectedTime = 0x10

	nl80211RateInfoBitrate   = 1
	nl80211RateInfoBitrate32 = 5
)

// genlHeaderLen is the size of struct genlmsghdr: cmd, version, reserved.
const genlHeaderLen = 4

// nlIface is what NL80211_CMD_GET_INTERFACE says of one interface.
type nlIface struct {
	Index    uint32
	Name     string
	Type     uint32
	SSID     []byte
	FreqMHz  uint32
	WidthMHz int
}

// nlStation is what NL80211_CMD_GET_STATION says of one peer: for a client
// interface, the access point it is associated with.
type nlStation struct {
	SignalDBM    *int
	SignalAvgDBM *int
	TxMbps       float64
	RxMbps       float64
	ConnectedS   uint32
}

// channelWidths maps enum nl80211_chan_width to megahertz.
var channelWidths = map[uint32]int{0: 20, 1: 20, 2: 40, 3: 80, 4: 160, 5: 160, 6: 5, 7: 10, 13: 320}

// genlAttrs returns the attributes of a generic netlink message, after its
// genlmsghdr.
func genlAttrs(m nlMessage) ([]nlAttr, error) {
	if len(m.Data) < genlHeaderLen {
		return nil, errors.New("netlink: message shorter than its generic header")
	}
	return parseAttrs(m.Data[genlHeaderLen:])
}

// genlFamilyID reads the family number from the answer to
// CTRL_CMD_GETFAMILY.
func genlFamilyID(b []byte) (uint16, error) {
	msgs, err := splitNetlink(b, 4)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		attrs, err := genlAttrs(m)
		if err != nil {
			return 0, err
		}
		for _, a := range attrs {
			if a.Type == ctrlAttrFamilyID {
				if id, ok := attrU16(a); ok {
					return id, nil
				}
			}
		}
	}
	return 0, errors.New("netlink: no family id in the controller's answer")
}

// familyRequest is the payload of CTRL_CMD_GETFAMILY for name.
func familyRequest(name string) []byte {
	attrLen := 4 + len(name) + 1
	b := make([]byte, genlHeaderLen+align4(attrLen))
	b[0], b[1] = ctrlCmdGetFamily, 1
	binary.NativeEndian.PutUint16(b[4:], uint16(attrLen))
	binary.NativeEndian.PutUint16(b[6:], ctrlAttrFamilyName)
	copy(b[8:], name)
	return b
}

// stationRequest is the payload of NL80211_CMD_GET_STATION for an
// interface.
func stationRequest(ifindex uint32) []byte {
	b := make([]byte, genlHeaderLen+8)
	b[0] = nl80211CmdGetStation
	binary.NativeEndian.PutUint16(b[4:], 8)
	binary.NativeEndian.PutUint16(b[6:], nl80211AttrIfindex)
	binary.NativeEndian.PutUint32(b[8:], ifindex)
	return b
}

// parseNL80211Interfaces parses the dump of NL80211_CMD_GET_INTERFACE.
func parseNL80211Interfaces(b []byte) ([]nlIface, error) {
	msgs, err := splitNetlink(b, 256)
	var out []nlIface
	for _, m := range msgs {
		attrs, aerr := genlAttrs(m)
		if aerr != nil {
			return out, fmt.Errorf("nl80211 interface: %w", aerr)
		}
		var ifc nlIface
		for _, a := range attrs {
			switch a.Type {
			case nl80211AttrIfindex:
				ifc.Index, _ = attrU32(a)
			case nl80211AttrIfname:
				ifc.Name = cleanText(attrString(a), 64)
			case nl80211AttrIftype:
				ifc.Type, _ = attrU32(a)
			case nl80211AttrSSID:
				ifc.SSID = a.Data[:min(len(a.Data), 32)]
			case nl80211AttrWiphyFreq:
				ifc.FreqMHz, _ = attrU32(a)
			case nl80211AttrChannelWidth:
				if w, ok := attrU32(a); ok {
					ifc.WidthMHz = channelWidths[w]
				}
			}
		}
		if ifc.Index != 0 || ifc.Name != "" {
			out = append(out, ifc)
		}
	}
	return out, err
}

// parseNL80211Stations parses the dump of NL80211_CMD_GET_STATION.
func parseNL80211Stations(b []byte) ([]nlStation, error) {
	msgs, err := splitNetlink(b, 256)
	var out []nlStation
	for _, m := range msgs {
		attrs, aerr := genlAttrs(m)
		if aerr != nil {
			return out, fmt.Errorf("nl80211 station: %w", aerr)
		}
		for _, a := range attrs {
			if a.Type != nl80211AttrStaInfo {
				continue
			}
			st, serr := parseStaInfo(a.Data)
			if serr != nil {
				return out, fmt.Errorf("nl80211 station: %w", serr)
			}
			out = append(out, st)
		}
	}
	return out, err
}

// parseStaInfo parses the nested NL80211_ATTR_STA_INFO.
func parseStaInfo(b []byte) (nlStation, error) {
	var st nlStation
	attrs, err := parseAttrs(b)
	if err != nil {
		return st, err
	}
	for _, a := range attrs {
		switch a.Type {
		case nl80211StaInfoSignal:
			if v, ok := attrU8(a); ok {
				dbm := int(int8(v))
				st.SignalDBM = &dbm
			}
		case nl80211StaInfoSignalAvg:
			if v, ok := attrU8(a); ok {
				dbm := int(int8(v))
				st.SignalAvgDBM = &dbm
			}
		case nl80211StaInfoTxBitrate:
			st.TxMbps = parseRateInfo(a.Data)
		case nl80211StaInfoRxBitrate:
			st.RxMbps = parseRateInfo(a.Data)
		case nl80211StaInfoConnectedTime:
			st.ConnectedS, _ = attrU32(a)
		}
	}
	return st, nil
}

// parseRateInfo returns a nested rate's bit rate in Mb/s: the 32-bit value
// when present (rates above 6.5 Gb/s need it), else the 16-bit one, both in
// units of 100 kb/s.
func parseRateInfo(b []byte) float64 {
	attrs, _ := parseAttrs(b)
	var r16, r32 uint32
	for _, a := range attrs {
		switch a.Type {
		case nl80211RateInfoBitrate:
			if v, ok := attrU16(a); ok {
				r16 = uint32(v)
			}
		case nl80211RateInfoBitrate32:
			r32, _ = attrU32(a)
		}
	}
	if r32 == 0 {
		r32 = r16
	}
	return float64(r32) / 10
}

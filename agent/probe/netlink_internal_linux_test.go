package probe

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNetlinkConstants checks the kernel numbers the platform-neutral
// parsers carry against golang.org/x/sys/unix.
func TestNetlinkConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		ours, sys int
	}{
		{"NLMSG_ERROR", nlmsgError, unix.NLMSG_ERROR},
		{"NLMSG_DONE", nlmsgDone, unix.NLMSG_DONE},
		{"NLA_F_NESTED", nlaFNested, unix.NLA_F_NESTED},
		{"NLA_F_NET_BYTEORDER", nlaFNetByteorder, unix.NLA_F_NET_BYTEORDER},
		{"GENL_ID_CTRL", genlIDCtrl, unix.GENL_ID_CTRL},
		{"CTRL_CMD_GETFAMILY", ctrlCmdGetFamily, unix.CTRL_CMD_GETFAMILY},
		{"CTRL_ATTR_FAMILY_ID", ctrlAttrFamilyID, unix.CTRL_ATTR_FAMILY_ID},
		{"CTRL_ATTR_FAMILY_NAME", ctrlAttrFamilyName, unix.CTRL_ATTR_FAMILY_NAME},
		{"NL80211_CMD_GET_INTERFACE", nl80211CmdGetInterface, unix.NL80211_CMD_GET_INTERFACE},
		{"NL80211_CMD_GET_STATION", nl80211CmdGetStation, unix.NL80211_CMD_GET_STATION},
		{"NL80211_ATTR_IFINDEX", nl80211AttrIfindex, unix.NL80211_ATTR_IFINDEX},
		{"NL80211_ATTR_IFNAME", nl80211AttrIfname, unix.NL80211_ATTR_IFNAME},
		{"NL80211_ATTR_IFTYPE", nl80211AttrIftype, unix.NL80211_ATTR_IFTYPE},
		{"NL80211_ATTR_STA_INFO", nl80211AttrStaInfo, unix.NL80211_ATTR_STA_INFO},
		{"NL80211_ATTR_WIPHY_FREQ", nl80211AttrWiphyFreq, unix.NL80211_ATTR_WIPHY_FREQ},
		{"NL80211_ATTR_SSID", nl80211AttrSSID, unix.NL80211_ATTR_SSID},
		{"NL80211_ATTR_CHANNEL_WIDTH", nl80211AttrChannelWidth, unix.NL80211_ATTR_CHANNEL_WIDTH},
		{"NL80211_IFTYPE_STATION", nl80211IftypeStation, unix.NL80211_IFTYPE_STATION},
		{"NL80211_STA_INFO_SIGNAL", nl80211StaInfoSignal, unix.NL80211_STA_INFO_SIGNAL},
		{"NL80211_STA_INFO_TX_BITRATE", nl80211StaInfoTxBitrate, unix.NL80211_STA_INFO_TX_BITRATE},
		{"NL80211_STA_INFO_SIGNAL_AVG", nl80211StaInfoSignalAvg, unix.NL80211_STA_INFO_SIGNAL_AVG},
		{"NL80211_STA_INFO_RX_BITRATE", nl80211StaInfoRxBitrate, unix.NL80211_STA_INFO_RX_BITRATE},
		{"NL80211_STA_INFO_CONNECTED_TIME", nl80211StaInfoConnectedTime, unix.NL80211_STA_INFO_CONNECTED_TIME},
		{"NL80211_RATE_INFO_BITRATE", nl80211RateInfoBitrate, unix.NL80211_RATE_INFO_BITRATE},
		{"NL80211_RATE_INFO_BITRATE32", nl80211RateInfoBitrate32, unix.NL80211_RATE_INFO_BITRATE32},
		{"NL80211_CHAN_WIDTH_80", 3, unix.NL80211_CHAN_WIDTH_80},
		{"NFNL_SUBSYS_NFTABLES", nfnlSubsysNFTables, unix.NFNL_SUBSYS_NFTABLES},
		{"NFT_MSG_NEWTABLE", nftMsgNewTable, unix.NFT_MSG_NEWTABLE},
		{"NFT_MSG_GETTABLE", nftMsgGetTable, unix.NFT_MSG_GETTABLE},
		{"NFT_MSG_NEWCHAIN", nftMsgNewChain, unix.NFT_MSG_NEWCHAIN},
		{"NFT_MSG_GETCHAIN", nftMsgGetChain, unix.NFT_MSG_GETCHAIN},
		{"NFT_MSG_NEWRULE", nftMsgNewRule, unix.NFT_MSG_NEWRULE},
		{"NFT_MSG_GETRULE", nftMsgGetRule, unix.NFT_MSG_GETRULE},
		{"NFT_MSG_NEWGEN", nftMsgNewGen, unix.NFT_MSG_NEWGEN},
		{"NFT_MSG_GETGEN", nftMsgGetGen, unix.NFT_MSG_GETGEN},
		{"NFTA_GEN_ID", nftaGenID, unix.NFTA_GEN_ID},
		{"NFTA_TABLE_NAME", nftaTableName, unix.NFTA_TABLE_NAME},
		{"NFTA_CHAIN_TABLE", nftaChainTable, unix.NFTA_CHAIN_TABLE},
		{"NFTA_CHAIN_NAME", nftaChainName, unix.NFTA_CHAIN_NAME},
		{"NFTA_CHAIN_HOOK", nftaChainHook, unix.NFTA_CHAIN_HOOK},
		{"NFTA_CHAIN_POLICY", nftaChainPolicy, unix.NFTA_CHAIN_POLICY},
		{"NFTA_CHAIN_TYPE", nftaChainType, unix.NFTA_CHAIN_TYPE},
		{"NFTA_HOOK_HOOKNUM", nftaHookHooknum, unix.NFTA_HOOK_HOOKNUM},
		{"NFTA_HOOK_PRIORITY", nftaHookPriority, unix.NFTA_HOOK_PRIORITY},
		{"NFTA_RULE_TABLE", nftaRuleTable, unix.NFTA_RULE_TABLE},
		{"NFTA_RULE_CHAIN", nftaRuleChain, unix.NFTA_RULE_CHAIN},
		{"NFPROTO_INET", 1, unix.NFPROTO_INET},
		{"NFPROTO_IPV6", 10, unix.NFPROTO_IPV6},
		{"NL80211_CHAN_WIDTH_320", 13, unix.NL80211_CHAN_WIDTH_320},
	} {
		if c.ours != c.sys {
			t.Errorf("%s: %#x here, %#x in x/sys/unix", c.name, c.ours, c.sys)
		}
	}
}

// TestNetlinkRequest asks the generic netlink controller for its own
// family, which every kernel has: the socket, the request and the answer's
// parsing all take part.
func TestNetlinkRequest(t *testing.T) {
	b, truncated, err := netlinkRequest(t.Context(), unix.NETLINK_GENERIC, genlIDCtrl, unix.NLM_F_REQUEST, familyRequest("nlctrl"), false)
	if err != nil || truncated {
		t.Fatalf("asking the controller: %v (truncated %v)", err, truncated)
	}
	id, err := genlFamilyID(b)
	if err != nil || id != genlIDCtrl {
		t.Errorf("nlctrl family: %#x, %v", id, err)
	}
	// A family this kernel lacks is an error that says so.
	b, _, err = netlinkRequest(t.Context(), unix.NETLINK_GENERIC, genlIDCtrl, unix.NLM_F_REQUEST, familyRequest("sonde-none"), false)
	if err == nil {
		_, err = genlFamilyID(b)
	}
	if err == nil {
		t.Error("an unknown family resolved")
	}
}

// TestNFTLive dumps this machine's nftables ruleset: the socket and the
// three dumps must work, whatever the ruleset holds.
func TestNFTLive(t *testing.T) {
	p := &securityProbe{nft: newNFT()}
	n, err := p.nftables(t.Context())
	if err != nil {
		t.Fatalf("dumping nftables as root on Linux: %v", err)
	}
	if n.Rules < 0 || n.Truncated {
		t.Errorf("%+v", n)
	}
}

// TestNFTGenLive: this kernel answers NFT_MSG_GETGEN with a generation
// (the same twice unless something changed the ruleset in between, which
// a test cannot rule out on a shared machine: only logged); an agent
// without CAP_NET_ADMIN is refused, as for the dumps.
func TestNFTGenLive(t *testing.T) {
	var gens []uint32
	for range 2 {
		b, err := liveNFT{}.Gen(t.Context())
		if os.Geteuid() != 0 {
			if !errors.Is(err, unix.EPERM) {
				t.Fatalf("not root: %v, want EPERM", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		gen, err := parseNFTGen(b)
		if err != nil {
			t.Fatalf("% x: %v", b, err)
		}
		gens = append(gens, gen)
	}
	if gens[0] != gens[1] {
		t.Logf("generation %d then %d: the ruleset changed between the two", gens[0], gens[1])
	}
}

package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
)

// nftables numbers (linux/netfilter/nf_tables.h, nfnetlink.h,
// linux/netfilter.h), kept here so this parser builds everywhere;
// netlink_internal_linux_test.go checks them against x/sys/unix.
const (
	nfnlSubsysNFTables = 10
	nftMsgNewTable     = 0
	nftMsgGetTable     = 1
	nftMsgNewChain     = 3
	nftMsgGetChain     = 4
	nftMsgNewRule      = 6
	nftMsgGetRule      = 7
	nftMsgNewGen       = 15
	nftMsgGetGen       = 16

	nftaTableName    = 1
	nftaChainTable   = 1
	nftaChainName    = 3
	nftaChainHook    = 4
	nftaChainPolicy  = 5
	nftaChainType    = 7
	nftaHookHooknum  = 1
	nftaHookPriority = 2
	nftaRuleTable    = 1
	nftaRuleChain    = 2
	nftaGenID        = 1

	nfDrop = 0
)

// nfgenmsgLen is the size of struct nfgenmsg: family, version, resource id.
const nfgenmsgLen = 4

// nftSource returns the raw answer of an nftables dump (NFT_MSG_GETTABLE,
// GETCHAIN or GETRULE, every family).
type nftSource interface {
	Dump(ctx context.Context, cmd uint8) ([]byte, error)
}

// nftGenSource is an nftSource that also returns the raw answer of
// NFT_MSG_GETGEN: the ruleset's generation, which the kernel moves at
// every change of the ruleset (every commit of a transaction).
type nftGenSource interface {
	nftSource
	Gen(ctx context.Context) ([]byte, error)
}

// parseNFTGen reads the generation from an NFT_MSG_NEWGEN answer.
func parseNFTGen(b []byte) (uint32, error) {
	msgs, err := splitNetlink(b, 4)
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	for _, m := range msgs {
		if m.Type != nfnlSubsysNFTables<<8|nftMsgNewGen || len(m.Data) < nfgenmsgLen {
			continue
		}
		attrs, err := parseAttrs(m.Data[nfgenmsgLen:])
		if err != nil {
			return 0, fmt.Errorf("nftables generation: %w", err)
		}
		for _, a := range attrs {
			if gen, ok := attrBE32(a); ok && a.Type == nftaGenID {
				return gen, nil
			}
		}
	}
	return 0, errors.New("nftables generation: not in the answer")
}

// NFTables summarises the nftables ruleset: tables, their chains and how
// many rules each holds. iptables-nft (the default iptables of current
// distributions, which ufw and firewalld drive) keeps its rules here too.
type NFTables struct {
	Tables []NFTable `json:"tables"`
	Rules  int       `json:"rules"`
	// Truncated says the rule dump passed the probe's limit: there are
	// more rules than counted.
	Truncated bool `json:"truncated,omitempty"`
}

// NFTable is one nftables table.
type NFTable struct {
	Family string `json:"family"`
	Name   string `json:"name"`
	Chains int    `json:"chains"`
	Rules  int    `json:"rules"`
	// BaseChains are the chains attached to a hook, where packets enter
	// the ruleset.
	BaseChains []NFTBaseChain `json:"base_chains,omitempty"`
}

// NFTBaseChain is a chain attached to a netfilter hook.
type NFTBaseChain struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Hook     string `json:"hook"`
	Priority int32  `json:"priority"`
	// Policy is what happens to a packet no rule decided: accept or drop.
	Policy string `json:"policy"`
	Rules  int    `json:"rules"`
}

// maxNFTTables bounds the tables reported.
const maxNFTTables = 64

// nftFamilies names the nfproto families.
var nftFamilies = map[uint8]string{1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

// nftHook names a hook number in a family.
func nftHook(family string, n uint32) string {
	var names []string
	switch family {
	case "arp":
		names = []string{"input", "output", "forward"}
	case "netdev":
		names = []string{"ingress", "egress"}
	default:
		names = []string{"prerouting", "input", "forward", "output", "postrouting", "ingress"}
	}
	if int(n) < len(names) {
		return names[n]
	}
	return fmt.Sprint(n)
}

// nftMessage is one table, chain or rule message: its family and
// attributes.
type nftMessage struct {
	family string
	attrs  []nlAttr
}

// nftMessages splits a dump into its messages of type want.
func nftMessages(b []byte, want uint16) ([]nftMessage, error) {
	msgs, err := splitNetlink(b, maxNetlinkMessages)
	var out []nftMessage
	for _, m := range msgs {
		if m.Type != nfnlSubsysNFTables<<8|want || len(m.Data) < nfgenmsgLen {
			continue
		}
		attrs, aerr := parseAttrs(m.Data[nfgenmsgLen:])
		if aerr != nil {
			return out, aerr
		}
		fam, ok := nftFamilies[m.Data[0]]
		if !ok {
			fam = fmt.Sprint(m.Data[0])
		}
		out = append(out, nftMessage{fam, attrs})
	}
	return out, err
}

// parseNFT summarises the three dumps. A rule dump cut at its limit gives
// what it counted and Truncated.
func parseNFT(tables, chains, rules []byte) (*NFTables, error) {
	r := &NFTables{Tables: []NFTable{}}
	type key struct{ family, table string }
	byTable := map[key]int{}
	tms, err := nftMessages(tables, nftMsgNewTable)
	if err != nil {
		return nil, fmt.Errorf("nftables tables: %w", err)
	}
	for _, m := range tms {
		for _, a := range m.attrs {
			if a.Type == nftaTableName && len(r.Tables) < maxNFTTables {
				byTable[key{m.family, attrString(a)}] = len(r.Tables)
				r.Tables = append(r.Tables, NFTable{Family: m.family, Name: cleanText(attrString(a), 64)})
			}
		}
	}
	type chainKey struct {
		key
		chain string
	}
	base := map[chainKey]int{} // index in its table's BaseChains
	cms, err := nftMessages(chains, nftMsgNewChain)
	if err != nil {
		return nil, fmt.Errorf("nftables chains: %w", err)
	}
	for _, m := range cms {
		var table, name, typ, policy string
		var hook *NFTBaseChain
		for _, a := range m.attrs {
			switch a.Type {
			case nftaChainTable:
				table = attrString(a)
			case nftaChainName:
				name = attrString(a)
			case nftaChainType:
				typ = attrString(a)
			case nftaChainHook:
				hook = parseNFTHook(m.family, a.Data)
			case nftaChainPolicy:
				if p, ok := attrBE32(a); ok {
					policy = map[bool]string{true: "drop", false: "accept"}[p == nfDrop]
				}
			}
		}
		if hook != nil && policy != "" {
			hook.Policy = policy
		}
		i, ok := byTable[key{m.family, table}]
		if !ok {
			continue
		}
		t := &r.Tables[i]
		t.Chains++
		if hook != nil && len(t.BaseChains) < 16 {
			hook.Name, hook.Type = cleanText(name, 64), cleanText(typ, 16)
			base[chainKey{key{m.family, table}, name}] = len(t.BaseChains)
			t.BaseChains = append(t.BaseChains, *hook)
		}
	}
	rms, err := nftMessages(rules, nftMsgNewRule)
	if errors.Is(err, errNetlinkTruncated) {
		r.Truncated, err = true, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nftables rules: %w", err)
	}
	for _, m := range rms {
		var table, chain string
		for _, a := range m.attrs {
			switch a.Type {
			case nftaRuleTable:
				table = attrString(a)
			case nftaRuleChain:
				chain = attrString(a)
			}
		}
		k := key{m.family, table}
		i, ok := byTable[k]
		if !ok {
			continue
		}
		r.Rules++
		r.Tables[i].Rules++
		if j, ok := base[chainKey{k, chain}]; ok {
			r.Tables[i].BaseChains[j].Rules++
		}
	}
	sort.Slice(r.Tables, func(i, j int) bool { // not slices.SortFunc: see sortUnits
		a, b := r.Tables[i], r.Tables[j]
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Name, b.Name)) < 0
	})
	return r, nil
}

// parseNFTHook parses a chain's nested NFTA_CHAIN_HOOK.
func parseNFTHook(family string, b []byte) *NFTBaseChain {
	attrs, _ := parseAttrs(b)
	c := &NFTBaseChain{Policy: "accept"}
	for _, a := range attrs {
		switch a.Type {
		case nftaHookHooknum:
			if n, ok := attrBE32(a); ok {
				c.Hook = nftHook(family, n)
			}
		case nftaHookPriority:
			if n, ok := attrBE32(a); ok {
				c.Priority = int32(n)
			}
		}
	}
	return c
}

// filtersInput says whether the ruleset filters packets coming in: a
// filter chain on the input hook (of an IP family) that holds rules or
// drops what they do not accept. What the rules let through is not
// judged.
func (n *NFTables) filtersInput() bool {
	for _, t := range n.Tables {
		if t.Family != "ip" && t.Family != "ip6" && t.Family != "inet" {
			continue
		}
		for _, c := range t.BaseChains {
			if c.Hook == "input" && c.Type == "filter" && (c.Rules > 0 || c.Policy == "drop") {
				return true
			}
		}
	}
	return false
}

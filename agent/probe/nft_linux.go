package probe

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// liveNFT dumps this network namespace's nftables ruleset over
// NETLINK_NETFILTER, read-only.
type liveNFT struct{}

func newNFT() nftSource { return liveNFT{} }

var _ nftGenSource = liveNFT{}

// Dump asks for every family's tables, chains or rules. A dump cut at
// maxNetlinkDump comes back with errNetlinkTruncated.
func (liveNFT) Dump(ctx context.Context, cmd uint8) ([]byte, error) {
	b, truncated, err := netlinkRequest(ctx, unix.NETLINK_NETFILTER, nfnlSubsysNFTables<<8|uint16(cmd),
		unix.NLM_F_REQUEST|unix.NLM_F_DUMP, []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, true)
	if err != nil {
		return nil, fmt.Errorf("nftables dump: %w", err)
	}
	if truncated {
		return b, errNetlinkTruncated
	}
	return b, nil
}

// Gen asks for the ruleset's generation.
func (liveNFT) Gen(ctx context.Context) ([]byte, error) {
	b, _, err := netlinkRequest(ctx, unix.NETLINK_NETFILTER, nfnlSubsysNFTables<<8|nftMsgGetGen,
		unix.NLM_F_REQUEST, []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, false)
	if err != nil {
		return nil, fmt.Errorf("nftables generation: %w", err)
	}
	return b, nil
}

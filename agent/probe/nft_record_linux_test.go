package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordNFT writes this network namespace's nftables dumps as hex to
// the folder named by SONDE_RECORD_NFT, with SONDE_RECORD_NOTE as their
// first comment. It is how testdata/security/*/nftables were made:
//
//	unshare -n sh -c 'nft -f ruleset.nft && SONDE_RECORD_NFT=dir go test -run TestRecordNFT ./agent/probe'
func TestRecordNFT(t *testing.T) {
	dir := os.Getenv("SONDE_RECORD_NFT")
	if dir == "" {
		t.Skip("SONDE_RECORD_NFT not set")
	}
	for name, cmd := range map[string]uint8{"tables": nftMsgGetTable, "chains": nftMsgGetChain, "rules": nftMsgGetRule} {
		b, err := newNFT().Dump(t.Context(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		var s strings.Builder
		fmt.Fprintf(&s, "# %s\n# NFT_MSG_GET%s dump, every family, as the kernel answered it.\n", os.Getenv("SONDE_RECORD_NOTE"), strings.ToUpper(strings.TrimSuffix(name, "s")))
		for i := 0; i < len(b); i += 16 {
			for j := i; j < min(i+16, len(b)); j++ {
				if j > i {
					s.WriteByte(' ')
				}
				fmt.Fprintf(&s, "%02x", b[j])
			}
			s.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, name+".hex"), []byte(s.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

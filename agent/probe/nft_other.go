//go:build !linux

package probe

// newNFT returns nil: nftables is Linux's.
func newNFT() nftSource { return nil }

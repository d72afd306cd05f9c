//go:build !linux

package probe

// newNL80211 returns nil: nl80211 is Linux's.
func newNL80211() nl80211Source { return nil }

package probe

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// liveNL80211 asks the kernel's nl80211 over generic netlink. The family's
// number is resolved on first use and kept.
type liveNL80211 struct {
	mu     sync.Mutex
	family uint16
}

func newNL80211() nl80211Source { return &liveNL80211{} }

func (l *liveNL80211) resolve(ctx context.Context) (uint16, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.family != 0 {
		return l.family, nil
	}
	b, _, err := netlinkRequest(ctx, unix.NETLINK_GENERIC, genlIDCtrl, unix.NLM_F_REQUEST, familyRequest("nl80211"), false)
	if err != nil {
		return 0, fmt.Errorf("resolving the nl80211 family: %w", err)
	}
	id, err := genlFamilyID(b)
	if err != nil {
		// ENOENT: no cfg80211 in this kernel.
		return 0, fmt.Errorf("resolving the nl80211 family: %w", err)
	}
	l.family = id
	return id, nil
}

func (l *liveNL80211) dump(ctx context.Context, payload []byte) ([]byte, error) {
	fam, err := l.resolve(ctx)
	if err != nil {
		return nil, err
	}
	b, _, err := netlinkRequest(ctx, unix.NETLINK_GENERIC, fam, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, payload, true)
	return b, err
}

func (l *liveNL80211) Interfaces(ctx context.Context) ([]byte, error) {
	return l.dump(ctx, []byte{nl80211CmdGetInterface, 0, 0, 0})
}

func (l *liveNL80211) Stations(ctx context.Context, ifindex uint32) ([]byte, error) {
	return l.dump(ctx, stationRequest(ifindex))
}

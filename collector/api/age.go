package api

import (
	"context"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/render"
)

// SnapshotView answers GET /api/v1/snapshots/{id}: the stored snapshot,
// and when its agent last reported health, so that a view of it can say
// how far the machine has moved on since (render.Age).
type SnapshotView struct {
	store.Snapshot
	// LatestHealthAt is when the agent's latest health sample was
	// captured; zero when it has delivered none.
	LatestHealthAt time.Time `json:"latest_health_at,omitzero"`
}

// Age returns the view's render.Age.
func (v *SnapshotView) Age() render.Age {
	return render.Age{SnapshotID: v.ID, CapturedAt: v.CapturedAt, LatestHealth: v.LatestHealthAt}
}

// LatestHealth returns when the agent's latest delivered health sample
// was captured; zero when it has delivered none. Views set a snapshot's
// lists against it: a process list is stale once the agent has reported
// for minutes since.
func (a *API) LatestHealth(ctx context.Context, agentID string) (time.Time, error) {
	h, err := a.Store.Snapshots(ctx, agentID, store.SnapshotFilter{Kind: "health", Delivered: true, Limit: 1})
	if err != nil || len(h) == 0 {
		return time.Time{}, err
	}
	return h[0].CapturedAt, nil
}

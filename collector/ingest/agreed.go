package ingest

import "context"

type userAgreedKey struct{}

// WithUserAgreed returns a context whose snapshot requests say the person
// at the machine agreed to heavy probes on a low battery
// (protocol.SnapshotRequest.UserAgreed), which the agent otherwise holds
// back below its battery_floor.
func WithUserAgreed(ctx context.Context) context.Context {
	return context.WithValue(ctx, userAgreedKey{}, true)
}

// UserAgreedFrom reports whether WithUserAgreed marked ctx.
func UserAgreedFrom(ctx context.Context) bool {
	agreed, _ := ctx.Value(userAgreedKey{}).(bool)
	return agreed
}

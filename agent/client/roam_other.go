//go:build !linux

package client

import "context"

// addrChanges ticks every roamPoll: other systems have no cheap way here
// to be told.
func addrChanges(ctx context.Context) <-chan struct{} { return pollChanges(ctx) }

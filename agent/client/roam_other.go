//go:build !linux

package client

import (
	"context"
	"sync"
)

// addrChanges ticks every roamPoll: other systems have no cheap way here
// to be told.
func addrChanges(ctx context.Context, wg *sync.WaitGroup) <-chan struct{} {
	return pollChanges(ctx, wg)
}

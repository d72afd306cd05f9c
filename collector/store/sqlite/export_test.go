package sqlite

import (
	"context"
	"time"
)

// Migrations are the schema steps, for tests that build a database as an
// older collector left it: migrations[:i] applied is schema version i.
var Migrations = migrations

// AuditChain is chain, for tests that write audit rows as an older
// collector did.
var AuditChain = chain

// OpenTuned is Open with the last-seen times saved every seenEvery and
// the WAL checkpointed every checkpointEvery, the writer finishing it past
// restartPages, for tests that watch them reach the file.
func OpenTuned(ctx context.Context, path string, seenEvery, checkpointEvery time.Duration, restartPages int) (*Store, error) {
	return openStore(ctx, path, tuning{seenEvery: seenEvery, checkpointEvery: checkpointEvery, walRestartPages: restartPages})
}

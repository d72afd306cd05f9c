package sqlite_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestImportSnapshot: an import records a new machine and its snapshot in
// one commit, leaves an existing agent as it is, is a duplicate the second
// time, and when the snapshot cannot be stored, leaves no agent either.
func TestImportSnapshot(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	ctx := t.Context()
	ag := store.Agent{ID: store.ImportedAgentPrefix + "0011", Facts: protocol.Facts{Hostname: "offline-1"}, EnrolledAt: base}

	snap := snapshot(ag.ID, protocol.ImportedEpoch, 7, "full", base)
	id, dup, err := s.ImportSnapshot(ctx, ag, snap)
	if err != nil || dup || id == 0 {
		t.Fatalf("ImportSnapshot = (%d, %v, %v), want a new row", id, dup, err)
	}
	if got, err := s.Agent(ctx, ag.ID); err != nil || got.Facts.Hostname != "offline-1" || !got.LastSeen.IsZero() {
		t.Fatalf("the imported machine: %+v, %v", got, err)
	}
	if got, err := s.Snapshot(ctx, id); err != nil || !got.Imported || got.AgentID != ag.ID {
		t.Fatalf("the imported snapshot: %+v, %v", got, err)
	}
	if again, dup, err := s.ImportSnapshot(ctx, ag, snapshot(ag.ID, protocol.ImportedEpoch, 7, "full", base)); err != nil || !dup || again != id {
		t.Fatalf("the same import again = (%d, %v, %v), want (%d, true, nil)", again, dup, err, id)
	}

	// Filed under an enrolled agent, the agent keeps its own facts.
	enroll(t, s, "agent-1", "web-1")
	other := store.Agent{ID: "agent-1", Facts: protocol.Facts{Hostname: "forged"}}
	if _, _, err := s.ImportSnapshot(ctx, other, snapshot("agent-1", protocol.ImportedEpoch, 9, "full", base)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Agent(ctx, "agent-1"); got.Facts.Hostname != "web-1" {
		t.Errorf("an import changed an enrolled agent's facts: %+v", got.Facts)
	}

	// Only imports go this way.
	if _, _, err := s.ImportSnapshot(ctx, ag, snapshot(ag.ID, 1, 8, "full", base)); err == nil {
		t.Error("ImportSnapshot took a snapshot with a boot epoch of its own")
	}

	// A snapshot the database refuses takes its new agent down with it.
	db := rawDB(t, path)
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER refuse_seq_666 BEFORE INSERT ON snapshots WHEN NEW.seq = 666 BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	doomed := store.Agent{ID: store.ImportedAgentPrefix + "0666", Facts: protocol.Facts{Hostname: "doomed"}, EnrolledAt: base}
	if _, _, err := s.ImportSnapshot(ctx, doomed, snapshot(doomed.ID, protocol.ImportedEpoch, 666, "full", base)); err == nil {
		t.Fatal("the refused snapshot was stored")
	}
	if _, err := s.Agent(ctx, doomed.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed import left its agent behind: %v", err)
	}
}

// TestSnapshotsDelivered: the Delivered filter leaves imports out, and
// listings say which snapshots were imported and which had their capture
// time moved.
func TestSnapshotsDelivered(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "a1", "host-1")
	put(t, s, snapshot("a1", 1, 1, "full", base))
	adjusted := snapshot("a1", 1, 2, "full", base.Add(time.Minute))
	adjusted.AgentCapturedAt = base.Add(48 * time.Hour)
	put(t, s, adjusted)
	if _, _, err := s.ImportSnapshot(ctx, store.Agent{ID: "a1"}, snapshot("a1", protocol.ImportedEpoch, 3, "full", base.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}

	all, err := s.Snapshots(ctx, "a1", store.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || !all[0].Imported || all[1].Imported || all[2].Imported {
		t.Fatalf("all snapshots, newest first: %+v", all)
	}
	if !all[1].AgentCapturedAt.Equal(base.Add(48*time.Hour)) || !all[2].AgentCapturedAt.IsZero() {
		t.Errorf("agent capture times: %s, %s", all[1].AgentCapturedAt, all[2].AgentCapturedAt)
	}
	delivered, err := s.Snapshots(ctx, "a1", store.SnapshotFilter{Kind: "full", Delivered: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(delivered) != 1 || delivered[0].Seq != 2 || delivered[0].Imported {
		t.Fatalf("the latest delivered snapshot: %+v", delivered)
	}
	one, err := s.Snapshot(ctx, all[0].ID)
	if err != nil || !one.Imported {
		t.Fatalf("Snapshot of an import: %+v, %v", one, err)
	}
}

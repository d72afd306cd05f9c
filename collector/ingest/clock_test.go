package ingest_test

import (
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// helloAt enrolls an agent and connects as it, with a hello that gives
// the agent's clock as agentTime (zero: an agent that does not send it).
func (h *harness) helloAt(t *testing.T, hostname string, agentTime time.Time) (transport.Conn, string) {
	t.Helper()
	id := h.enroll(t, hostname)
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	hello := helloFor(id.AgentID)
	if !agentTime.IsZero() {
		hello.AgentTime = agentTime.UnixNano()
	}
	if _, err := exchange[*protocol.Welcome](t, conn, frame(t, hello)); err != nil {
		t.Fatalf("hello: %v", err)
	}
	return conn, id.AgentID
}

// storedAs returns the stored form of snap.
func (h *harness) storedAs(t *testing.T, snap *protocol.Snapshot) store.Snapshot {
	t.Helper()
	list, err := h.store.Snapshots(t.Context(), snap.AgentID, store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.BootEpoch == snap.BootEpoch && s.Seq == snap.Seq {
			return s
		}
	}
	t.Fatalf("snapshot %d is not stored", snap.Seq)
	return store.Snapshot{}
}

// TestCaptureTimeAhead: a snapshot dated ahead of the collector's clock is
// acked and kept, but stored at the collector's estimate of when it was
// taken, with the agent's own time beside it; it never becomes the agent's
// latest for the time it claims. Past capture times stay as they are.
func TestCaptureTimeAhead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)

	// An agent that does not send its clock: a capture time a day ahead is
	// placed at the time received.
	conn, agentID := h.helloAt(t, "no-clock", time.Time{})
	before := time.Now()
	ahead := h.snapshot(agentID)
	ahead.CapturedAt = before.Add(24 * time.Hour).UnixMilli()
	h.push(t, conn, ahead)
	got := h.storedAs(t, ahead)
	if got.CapturedAt.Before(before.Add(-time.Second)) || got.CapturedAt.After(time.Now()) {
		t.Errorf("a snapshot dated a day ahead is stored as captured at %s (sent at %s)", got.CapturedAt, before)
	}
	if !got.AgentCapturedAt.Equal(time.UnixMilli(ahead.CapturedAt)) {
		t.Errorf("the agent's capture time is not kept: %s, want %s", got.AgentCapturedAt, time.UnixMilli(ahead.CapturedAt))
	}
	// Within the tolerance, and in the past, capture times are the agent's.
	near := h.snapshot(agentID)
	near.CapturedAt = time.Now().Add(protocol.MaxClockAhead / 2).UnixMilli()
	late := h.snapshot(agentID)
	late.CapturedAt = time.Now().Add(-48 * time.Hour).UnixMilli()
	for _, snap := range []*protocol.Snapshot{near, late} {
		h.push(t, conn, snap)
		if got := h.storedAs(t, snap); !got.CapturedAt.Equal(time.UnixMilli(snap.CapturedAt)) || !got.AgentCapturedAt.IsZero() {
			t.Errorf("snapshot captured at %s is stored as %s (agent's %s)", time.UnixMilli(snap.CapturedAt), got.CapturedAt, got.AgentCapturedAt)
		}
	}
	latest, err := h.store.Snapshots(t.Context(), agentID, store.SnapshotFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].Seq == ahead.Seq {
		t.Errorf("the snapshot dated a day ahead is the agent's latest: %+v", latest)
	}

	// An agent whose clock runs an hour ahead: its time less that skew
	// places a spooled snapshot where it belongs; one still ahead after
	// the correction goes to the time received.
	const skew = time.Hour
	fastConn, fast := h.helloAt(t, "fast-clock", time.Now().Add(skew))
	spooled := h.snapshot(fast)
	trueTime := time.Now().Add(-10 * time.Minute)
	spooled.CapturedAt = trueTime.Add(skew).UnixMilli()
	forged := h.snapshot(fast)
	forged.CapturedAt = time.Now().Add(3 * skew).UnixMilli()
	sent := time.Now()
	h.push(t, fastConn, spooled)
	h.push(t, fastConn, forged)
	if got := h.storedAs(t, spooled); got.CapturedAt.Sub(trueTime).Abs() > 5*time.Second || got.AgentCapturedAt.IsZero() {
		t.Errorf("a spooled snapshot of an agent an hour ahead: stored at %s (agent's %s), taken at %s", got.CapturedAt, got.AgentCapturedAt, trueTime)
	}
	if got := h.storedAs(t, forged); got.CapturedAt.Before(sent.Add(-time.Second)) || got.CapturedAt.After(time.Now()) || got.AgentCapturedAt.IsZero() {
		t.Errorf("a snapshot still ahead after the skew: stored at %s (agent's %s), sent at %s", got.CapturedAt, got.AgentCapturedAt, sent)
	}
}

// TestImportedEpochRefused: the imports' boot epoch is not an agent's to
// use; a snapshot with it is refused for good, and not stored.
func TestImportedEpochRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)
	conn, agentID := h.helloAt(t, "epoch", time.Time{})
	snap := h.snapshot(agentID)
	snap.BootEpoch = protocol.ImportedEpoch
	_, err := exchange[*protocol.Ack](t, conn, frame(t, snap))
	expectRefusal(t, "a snapshot with the imported boot epoch", err, protocol.CodeBadRequest, "reserved for imported")
	if h.stored(t, snap) {
		t.Error("a snapshot with the imported boot epoch was stored")
	}
}

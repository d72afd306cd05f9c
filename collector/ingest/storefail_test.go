package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// errDisk is the failure failingStore injects.
var errDisk = errors.New("disk I/O error (injected by the test)")

// snapKey is a snapshot's identity.
type snapKey struct {
	epoch int64
	seq   uint64
}

// failingStore is the real store whose PutSnapshot fails while failing is
// set, as on a full disk or a broken one. It keeps what happened to every
// snapshot offered to it.
type failingStore struct {
	store.Store
	failing atomic.Bool

	mu        sync.Mutex
	refused   map[snapKey]int       // puts that failed
	committed map[snapKey]int       // puts that stored the snapshot (not duplicates)
	captured  map[snapKey]time.Time // as offered the first time
}

func (f *failingStore) PutSnapshot(ctx context.Context, s *store.Snapshot) (int64, bool, error) {
	k := snapKey{s.BootEpoch, s.Seq}
	f.mu.Lock()
	if _, ok := f.captured[k]; !ok {
		f.captured[k] = s.CapturedAt
	}
	f.mu.Unlock()
	if f.failing.Load() {
		f.mu.Lock()
		f.refused[k]++
		f.mu.Unlock()
		return 0, false, errDisk
	}
	id, dup, err := f.Store.PutSnapshot(ctx, s)
	if err == nil && !dup {
		f.mu.Lock()
		f.committed[k]++
		f.mu.Unlock()
	}
	return id, dup, err
}

// refusedKeys returns the snapshots whose put failed, and how often the
// most retried one was offered.
func (f *failingStore) refusedKeys() (keys []snapKey, most int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, n := range f.refused {
		keys = append(keys, k)
		most = max(most, n)
	}
	return keys, most
}

func (f *failingStore) commits(k snapKey) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.committed[k]
}

func (f *failingStore) capturedAt(k snapKey) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.captured[k]
}

// failingHarness is a collector on loopback whose store fails from the
// start.
func failingHarness(t *testing.T) (*harness, *failingStore) {
	t.Helper()
	fs := &failingStore{refused: map[snapKey]int{}, committed: map[snapKey]int{}, captured: map[snapKey]time.Time{}}
	fs.failing.Store(true)
	h := newHarnessWith(t, func(c *ingest.Config) { fs.Store = c.Store; c.Store = fs })
	return h, fs
}

// answers sends snap on a new stream, closes its side, and returns every
// message the collector writes before it ends the stream.
func answers(t *testing.T, conn transport.Conn, snap *protocol.Snapshot) []protocol.Message {
	t.Helper()
	str, err := conn.OpenStream(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(patience))
	if _, err := str.Write(frame(t, snap)); err != nil {
		t.Fatal(err)
	}
	str.Close()
	var got []protocol.Message
	for {
		m, err := protocol.Read(str)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("reading the collector's answers to snapshot %d: %v (after %d messages)", snap.Seq, err, len(got))
		}
		got = append(got, m)
	}
}

// TestNoAckForWhatWasNotStored: a snapshot the store fails to commit is
// answered with one retryable refusal and nothing else (no ack, before or
// after it); the same snapshot sent again once the store works is acked,
// as new, and stored once.
func TestNoAckForWhatWasNotStored(t *testing.T) {
	t.Parallel()
	h, fs := failingHarness(t)
	ag := h.enroll(t, "store-fails")
	conn := h.connect(t, ag)
	snap := h.snapshot(ag.AgentID)

	got := answers(t, conn, snap)
	if len(got) != 1 {
		t.Fatalf("the collector answered a snapshot it could not store with %d messages, want one refusal: %#v", len(got), got)
	}
	perr, ok := got[0].(*protocol.Error)
	if !ok {
		t.Fatalf("the collector answered a snapshot it could not store with %#v, want a refusal", got[0])
	}
	if perr.Code != protocol.CodeUnavailable {
		t.Errorf("refused with code %d (%q), want %d: the agent must keep the snapshot and send it again", perr.Code, perr.Message, protocol.CodeUnavailable)
	}
	if h.stored(t, snap) {
		t.Fatal("a snapshot whose put failed is in the store")
	}
	// Operators (and the fault tests) look for this line.
	waitUntil(t, "the collector to log the snapshot it could not store", func() bool {
		return strings.Contains(h.logs.String(), fmt.Sprintf(`msg="snapshot not stored" agent=%s seq=%d`, ag.AgentID, snap.Seq))
	})
	if n := h.obs.failures("store"); n != 1 {
		t.Errorf("%d store failures counted, want 1", n)
	}
	if n := h.obs.ingestedCount("health"); n != 0 {
		t.Errorf("%d snapshots counted as ingested, want 0", n)
	}

	fs.failing.Store(false)
	got = answers(t, conn, snap)
	if len(got) != 1 {
		t.Fatalf("once the store works, the collector answered with %d messages, want one ack: %#v", len(got), got)
	}
	ack, ok := got[0].(*protocol.Ack)
	if !ok {
		t.Fatalf("once the store works, the collector answered %#v, want an ack", got[0])
	}
	if ack.AgentID != snap.AgentID || ack.BootEpoch != snap.BootEpoch || ack.Seq != snap.Seq || ack.Duplicate {
		t.Errorf("ack %+v for snapshot %s/%d/%d sent again after a failed put; want it acked as new", ack, snap.AgentID, snap.BootEpoch, snap.Seq)
	}
	if !h.stored(t, snap) || fs.commits(snapKey{snap.BootEpoch, snap.Seq}) != 1 {
		t.Errorf("snapshot stored %v, committed %d times; want stored, once", h.stored(t, snap), fs.commits(snapKey{snap.BootEpoch, snap.Seq}))
	}
	if n := h.obs.ingestedCount("health"); n != 1 {
		t.Errorf("%d snapshots counted as ingested, want 1", n)
	}
}

// TestAgentKeepsWhatWasNotStored runs a real agent, with its spool,
// against a collector whose store fails every put: no snapshot is acked,
// the agent keeps every one in its spool and offers them again; once the
// store works, each arrives, as it was taken, and is stored exactly once.
func TestAgentKeepsWhatWasNotStored(t *testing.T) {
	t.Parallel()
	h, fs := failingHarness(t)
	ag := h.enroll(t, "spool-keeps")
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{ID: ag, Probes: probe.NewSet(), Facts: testFacts("spool-keeps"),
		Log: slog.New(slog.DiscardHandler), HealthInterval: 100 * time.Millisecond, Spool: sp}
	runClient(t, c)

	waitUntil(t, "the agent to offer two snapshots, one of them twice", func() bool {
		if d := c.Delivery(); d.Delivered != 0 {
			t.Fatalf("the agent was acked %d snapshots while the store fails every put", d.Delivered)
		}
		keys, most := fs.refusedKeys()
		return len(keys) >= 2 && most >= 2
	})
	refused, _ := fs.refusedKeys()
	if d := c.Delivery(); d.Delivered != 0 || d.Lost != 0 {
		t.Fatalf("while the store fails every put, the agent counts %d delivered (acked) and %d lost; want none", d.Delivered, d.Lost)
	}
	spooled := spooledSeqs(t, sp)
	for _, k := range refused {
		if !slices.Contains(spooled, k.seq) {
			t.Fatalf("snapshot %d, which the store failed to take, is not in the agent's spool (%v): it was acked or dropped", k.seq, spooled)
		}
	}
	if n := h.obs.ingestedCount("health"); n != 0 {
		t.Fatalf("%d snapshots counted as ingested while the store fails", n)
	}

	fs.failing.Store(false)
	waitUntil(t, "every snapshot the store refused to be stored", func() bool {
		for _, k := range refused {
			if fs.commits(k) == 0 {
				return false
			}
		}
		return true
	})
	waitUntil(t, "the agent to drop what was acked from its spool", func() bool {
		now := spooledSeqs(t, sp)
		for _, k := range refused {
			if slices.Contains(now, k.seq) {
				return false
			}
		}
		return true
	})
	list, err := h.store.Snapshots(t.Context(), ag.AgentID, store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range refused {
		rows := 0
		for _, s := range list {
			if s.BootEpoch == k.epoch && s.Seq == k.seq {
				rows++
				if want := fs.capturedAt(k); !s.CapturedAt.Equal(want) {
					t.Errorf("snapshot %d is stored as captured at %s; the agent took it at %s", k.seq, s.CapturedAt, want)
				}
			}
		}
		if rows != 1 || fs.commits(k) != 1 {
			t.Errorf("snapshot %d: %d rows, committed %d times; want exactly once", k.seq, rows, fs.commits(k))
		}
	}
	if d := c.Delivery(); d.Delivered < uint64(len(refused)) || d.Lost != 0 {
		t.Errorf("after the store came back: %+v; want the %d refused snapshots delivered, none lost", d, len(refused))
	}
}

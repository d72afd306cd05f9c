package spool

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func snap(epoch int64, seq uint64, pad int) *protocol.Snapshot {
	return &protocol.Snapshot{
		Kind:       protocol.KindHealth,
		AgentID:    "agent-1",
		BootEpoch:  epoch,
		Seq:        seq,
		CapturedAt: 1700000000000 + int64(seq),
		Probes:     []protocol.ProbeResult{{Name: "cpu", Data: []byte(`"` + strings.Repeat("x", pad) + `"`), Duration: 1}},
	}
}

func open(t testing.TB, dir string, capBytes int64) *Spool {
	t.Helper()
	s, err := Open(dir, capBytes, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain reads the whole spool in order, removing each record.
func drain(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		m, id, err := s.Next()
		if errors.Is(err, ErrEmpty) {
			return seqs
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.Seq)
		if err := s.Remove(id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOrderAcrossEpochs(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	// Put out of order: a later boot epoch and seq 10 after seq 9.
	for _, m := range []*protocol.Snapshot{snap(2, 1, 1), snap(1, 10, 1), snap(1, 9, 1), snap(1, 100, 1)} {
		if err := s.Put(m); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint64{9, 10, 100, 1}
	got := drain(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if n, b, _, _ := s.Stats(); n != 0 || b != 0 {
		t.Fatalf("after draining: %d records, %d bytes", n, b)
	}
}

func TestAfterWalksWithoutRemoving(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	for i := uint64(1); i <= 3; i++ {
		s.Put(snap(1, i, 1))
	}
	var id ID
	var seqs []uint64
	for {
		m, next, err := s.After(id)
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.Seq)
		id = next
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[2] != 3 {
		t.Fatalf("walk gave %v", seqs)
	}
	if n, _, _, _ := s.Stats(); n != 3 {
		t.Fatalf("walking removed records: %d left", n)
	}
}

func TestCapDropsOldest(t *testing.T) {
	dir := t.TempDir()
	// Sequence numbers 24 to 255 take the same room in CBOR, so every
	// record below is as large as this one.
	probe := open(t, t.TempDir(), 0)
	probe.Put(snap(1, 100, 1000))
	_, one, _, _ := probe.Stats()

	s := open(t, dir, 5*one+one/2) // room for five records
	for i := uint64(1); i <= 12; i++ {
		if err := s.Put(snap(1, i, 1000)); err != nil {
			t.Fatal(err)
		}
		if _, b, _, _ := s.Stats(); b > 5*one+one/2 {
			t.Fatalf("spool holds %d bytes, cap %d", b, 5*one+one/2)
		}
	}
	n, _, dropped, _ := s.Stats()
	if n != 5 || dropped != 7 {
		t.Fatalf("%d records, %d dropped; want 5 and 7", n, dropped)
	}
	if len(s.held) != 5 {
		t.Errorf("%d records held in memory, want the 5 kept", len(s.held))
	}
	got := drain(t, s)
	if got[0] != 8 || got[4] != 12 {
		t.Fatalf("kept %v, want 8..12", got)
	}
	tiny := open(t, t.TempDir(), 20)
	if err := tiny.Put(snap(1, 99, 10)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record beyond the cap: %v", err)
	}
}

// TestCapKeepsFullSnapshots drops health snapshots before the full ones
// (taken at a fault, or asked for), oldest first within each.
func TestCapKeepsFullSnapshots(t *testing.T) {
	// Sequence numbers 24 to 255 take the same room in CBOR, so every
	// record below is as large as this one.
	probe := open(t, t.TempDir(), 0)
	probe.Put(snap(1, 100, 1000))
	_, one, _, _ := probe.Stats()

	s := open(t, t.TempDir(), 4*one+one/2) // room for four records
	full := func(seq uint64) *protocol.Snapshot {
		m := snap(1, seq, 1000)
		m.Kind, m.Trigger = protocol.KindFull, "collector-unreachable"
		return m
	}
	for _, m := range []*protocol.Snapshot{full(1), snap(1, 2, 1000), full(3), snap(1, 4, 1000), snap(1, 5, 1000), snap(1, 6, 1000)} {
		if err := s.Put(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{1, 3, 5, 6}) {
		t.Fatalf("kept %v, want the full 1 and 3 and the newest health 5 and 6", got)
	}
	// With only full snapshots left, the oldest goes.
	for seq := uint64(10); seq < 16; seq++ {
		if err := s.Put(full(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{12, 13, 14, 15}) {
		t.Fatalf("kept %v, want 12..15", got)
	}
}

func TestCorruptRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := uint64(1); i <= 4; i++ {
		s.Put(snap(1, i, 100))
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	// Flip a payload byte in the first, truncate the second, empty the third.
	b, _ := os.ReadFile(names[0])
	b[len(b)-3] ^= 0xff
	os.WriteFile(names[0], b, 0o600)
	b, _ = os.ReadFile(names[1])
	os.WriteFile(names[1], b[:len(b)/2], 0o600)
	os.WriteFile(names[2], nil, 0o600)

	s = open(t, dir, 0) // reopen: sizes as found on disk
	got := drain(t, s)
	if len(got) != 1 || got[0] != 4 {
		t.Fatalf("read %v, want only seq 4", got)
	}
	if n, b, _, corrupt := s.Stats(); corrupt != 3 || n != 0 || b != 0 {
		t.Fatalf("stats: %d records, %d bytes, %d corrupt", n, b, corrupt)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("damaged records left on disk: %d files", len(left))
	}
}

func TestLeftoverTempIgnoredAndReopenKeeps(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	s.Put(snap(1, 1, 10))
	s.Put(snap(1, 2, 10))
	// A crash between create and rename leaves a temporary file.
	tmp := filepath.Join(dir, recordName(snap(1, 3, 10))+tmpSuffix)
	if err := os.WriteFile(tmp, []byte("SSP1half"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, 0)
	if n, _, _, corrupt := s.Stats(); n != 2 || corrupt != 0 {
		t.Fatalf("after reopen: %d records, %d corrupt", n, corrupt)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file not cleaned up: %v", err)
	}
	if got := drain(t, s); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("reopened spool gave %v", got)
	}
}

func TestPutSameSnapshotTwice(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	s.Put(snap(1, 1, 10))
	s.Put(snap(1, 1, 10))
	if n, _, _, _ := s.Stats(); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// TestStatsDoesNotWaitForTheDisk: while a Put waits for its fsync, Stats,
// After and Remove answer at once (the agent probe reads Stats in every
// health snapshot), the record is not readable until it is durable, and a
// second Put of other records goes ahead.
func TestStatsDoesNotWaitForTheDisk(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	if err := s.Put(snap(1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	syncing, release := make(chan struct{}), make(chan struct{})
	s.sync = func(f *os.File) error {
		if strings.Contains(f.Name(), recordName(snap(1, 2, 10))) {
			close(syncing)
			<-release
		}
		return f.Sync()
	}
	put := make(chan error, 1)
	go func() { put <- s.Put(snap(1, 2, 10)) }()
	<-syncing

	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if n, _, _, _ := s.Stats(); n != 1 {
			t.Errorf("while the second record syncs, Stats reports %d records, want 1", n)
		}
		if _, _, err := s.After(ID(recordName(snap(1, 1, 10)))); !errors.Is(err, ErrEmpty) {
			t.Errorf("a record not yet synced is readable: %v", err)
		}
		if err := s.Put(snap(1, 3, 10)); err != nil {
			t.Errorf("another Put: %v", err)
		}
	}()
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("Stats, After or another Put waited for a Put's fsync")
	}
	close(release)
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("spool holds %v, want 1, 2, 3 in order", got)
	}
}

// TestConcurrentPutsKeepTheCap: Puts running at once never hold more than
// the cap between them, written or being written, and lose nothing they
// had room for.
func TestConcurrentPutsKeepTheCap(t *testing.T) {
	// Sequence numbers 24 to 255 take the same room in CBOR, so every
	// record below is as large as this one.
	probe := open(t, t.TempDir(), 0)
	probe.Put(snap(1, 100, 1000))
	_, one, _, _ := probe.Stats()

	dir := t.TempDir()
	limit := 3*one + one/2 // room for three records
	s := open(t, dir, limit)
	s.sync = func(f *os.File) error {
		time.Sleep(2 * time.Millisecond) // a slow disk, so that writes overlap
		return f.Sync()
	}
	var wg sync.WaitGroup
	for i := uint64(100); i < 124; i++ {
		wg.Go(func() {
			if err := s.Put(snap(1, i, 1000)); err != nil {
				t.Error(err)
			}
			var onDisk int64
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), suffix) {
					onDisk += fi.Size()
				}
			}
			if onDisk > limit {
				t.Errorf("%d bytes of records on disk, cap %d", onDisk, limit)
			}
		})
	}
	wg.Wait()
	n, b, dropped, _ := s.Stats()
	if n != 3 || b != 3*one || dropped != 21 {
		t.Fatalf("%d records of %d bytes, %d dropped; want 3 of %d, 21 dropped", n, b, dropped, 3*one)
	}
	if s.reserved != 0 || len(s.writing) != 0 {
		t.Fatalf("left reserved: %d bytes, %d names", s.reserved, len(s.writing))
	}
}

// TestConcurrentPutsOfOneSnapshot: the same snapshot put twice at once is
// written in turn, and held once.
func TestConcurrentPutsOfOneSnapshot(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	s.sync = func(f *os.File) error {
		time.Sleep(5 * time.Millisecond)
		return f.Sync()
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Put(snap(1, 7, 100)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := drain(t, s); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("spool holds %v, want one record 7", got)
	}
}

// TestRecordsKeptInMemory: a record this process wrote comes back from
// memory, as it was put, with its frame as stored, whatever became of its
// file; the same record read back from disk after a restart has the same
// frame, and a damaged one is skipped then.
func TestRecordsKeptInMemory(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	small, big := snap(1, 1, 100), snap(1, 2, 4<<10) // big is compressed
	for _, m := range []*protocol.Snapshot{small, big} {
		if err := s.Put(m); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.RecordAfter("")
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.RecordAfter(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		r    Record
		want *protocol.Snapshot
	}{{first, small}, {second, big}} {
		frame, err := protocol.Append(nil, tt.want)
		if err != nil {
			t.Fatal(err)
		}
		if tt.r.Snapshot != tt.want || !bytes.Equal(tt.r.Frame, frame) || tt.r.ID != ID(recordName(tt.want)) {
			t.Errorf("record %s: not the snapshot put, or not its frame", tt.r.ID)
		}
	}
	// Damage the first on disk: this process still sends what it put.
	if err := os.WriteFile(filepath.Join(dir, string(first.ID)), []byte("SSP1garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RecordAfter(""); err != nil || r.Snapshot != small {
		t.Fatalf("after damage on disk: %v, %v", r.ID, err)
	}
	// After a restart, records come from disk: the damaged one is
	// skipped, the other has the frame that was held.
	s = open(t, dir, 0)
	r, err := s.RecordAfter("")
	if err != nil || r.ID != second.ID || !bytes.Equal(r.Frame, second.Frame) || !reflect.DeepEqual(r.Snapshot, big) {
		t.Fatalf("after reopening: %s, %v", r.ID, err)
	}
	if _, _, _, corrupt := s.Stats(); corrupt != 1 {
		t.Errorf("%d corrupt, want 1", corrupt)
	}
}

// TestHeldMemoryBounded: the records kept in memory stay within maxHeld;
// those past it are read back from disk, and every record comes back in
// order; records removed or dropped leave memory too.
func TestHeldMemoryBounded(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	const n = 40
	each := maxHeld / 16 // of probe data: about 16 fit
	for i := uint64(1); i <= n; i++ {
		m := snap(1, i, each)
		m.Probes[0].Data = []byte(`"` + strings.Repeat(string(rune('a'+i%26)), each) + `"`) // compresses, but is held whole
		if err := s.Put(m); err != nil {
			t.Fatal(err)
		}
		if s.heldBytes > maxHeld {
			t.Fatalf("after %d records: %d bytes held, bound %d", i, s.heldBytes, maxHeld)
		}
	}
	if len(s.held) == 0 || len(s.held) == n {
		t.Fatalf("%d of %d records held: want some, not all", len(s.held), n)
	}
	got := drain(t, s)
	if len(got) != n || !slices.IsSorted(got) {
		t.Fatalf("drained %v", got)
	}
	if len(s.held) != 0 || s.heldBytes != 0 {
		t.Errorf("after draining: %d records, %d bytes held", len(s.held), s.heldBytes)
	}
}

// TestPutLiveSyncsOnlyWhatWaits: a live put into an empty spool is not
// synced, yet readable, and a new spool opened on the folder finds it (the
// process's crash loses nothing); a record that is still there at the next
// put is synced then, and a live put behind another record is synced at
// once; Put always syncs.
func TestPutLiveSyncsOnlyWhatWaits(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	var synced []string
	s.sync = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return f.Sync()
	}
	name := func(seq uint64) string { return recordName(snap(1, seq, 10)) }
	step := func(what string, put func() error, want ...string) {
		t.Helper()
		synced = nil
		if err := put(); err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(synced) // a new record is synced as its temporary file
		for i, g := range got {
			got[i] = strings.TrimSuffix(g, tmpSuffix)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: synced %q, want %q", what, got, want)
		}
	}

	step("a live put into an empty spool", func() error { return s.PutLive(snap(1, 1, 10)) })
	if m, _, err := open(t, dir, 0).Next(); err != nil || m.Seq != 1 {
		t.Fatalf("the unsynced record, read by a new spool: %v, %v", m, err)
	}
	if err := s.Remove(ID(name(1))); err != nil {
		t.Fatal(err)
	}
	step("a live put after the last was acknowledged", func() error { return s.PutLive(snap(1, 2, 10)) })
	step("a live put while the last waits", func() error { return s.PutLive(snap(1, 3, 10)) }, name(2), name(3))
	if err := s.Remove(ID(name(2))); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ID(name(3))); err != nil {
		t.Fatal(err)
	}
	step("a live put into an empty spool again", func() error { return s.PutLive(snap(1, 4, 10)) })
	step("a put while a live one waits", func() error { return s.Put(snap(1, 5, 10)) }, name(4), name(5))
	step("a put with nothing unsynced", func() error { return s.Put(snap(1, 6, 10)) }, name(6))
	if got := drain(t, s); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Errorf("drained %v, want 4 5 6", got)
	}
}

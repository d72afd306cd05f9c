package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// recordSize is the size on disk of the record of snap(1, seq, pad), for
// any seq below 24 (all of them encode alike).
func recordSize(t *testing.T, pad int) int64 {
	t.Helper()
	s := open(t, t.TempDir(), 0)
	if err := s.Put(snap(1, 1, pad)); err != nil {
		t.Fatal(err)
	}
	_, b, _, _ := s.Stats()
	return b
}

// full is a full snapshot, taken at a fault.
func full(seq uint64) *protocol.Snapshot {
	m := snap(1, seq, 100)
	m.Kind, m.Trigger = protocol.KindFull, "collector-unreachable"
	return m
}

// TestCapIsExact: records that add up to the cap exactly all fit; one
// byte more and the oldest goes. A record the size of the cap fits alone;
// one larger than the cap is refused, and leaves nothing behind.
func TestCapIsExact(t *testing.T) {
	one := recordSize(t, 1000)

	s := open(t, t.TempDir(), 3*one)
	for i := uint64(1); i <= 3; i++ {
		if err := s.Put(snap(1, i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if n, b, dropped, _ := s.Stats(); n != 3 || b != 3*one || dropped != 0 {
		t.Fatalf("three records in a cap of three: %d records, %d bytes, %d dropped", n, b, dropped)
	}
	if err := s.Put(snap(1, 4, 1000)); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{2, 3, 4}) {
		t.Fatalf("a fourth record in a cap of three: kept %v, want 2, 3, 4", got)
	}

	alone := open(t, t.TempDir(), one)
	for i := uint64(1); i <= 2; i++ {
		if err := alone.Put(snap(1, i, 1000)); err != nil {
			t.Fatalf("a record the size of the cap: %v", err)
		}
	}
	if n, b, dropped, _ := alone.Stats(); n != 1 || b != one || dropped != 1 {
		t.Fatalf("records the size of the cap: %d records, %d bytes, %d dropped; want the newest alone", n, b, dropped)
	}

	dir := t.TempDir()
	small := open(t, dir, one-1)
	if err := small.Put(snap(1, 1, 1000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record one byte past the cap: %v, want %v", err, ErrTooLarge)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || small.reserved != 0 || len(small.writing) != 0 {
		t.Fatalf("a refused record left %d files, %d bytes reserved, %d writes", len(entries), small.reserved, len(small.writing))
	}
}

// TestDiskFull: when the disk is full, a Put drops the oldest health
// snapshot, then the next, until its record fits; with nothing left to
// drop, it fails, and a later Put, once there is room, goes through.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for _, m := range []*protocol.Snapshot{full(1), snap(1, 2, 100), snap(1, 3, 100), full(4)} {
		if err := s.Put(m); err != nil {
			t.Fatal(err)
		}
	}
	_, before, _, _ := s.Stats()
	fails := 2
	s.sync = func(f *os.File) error {
		if fails > 0 {
			fails--
			return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return f.Sync()
	}
	if err := s.Put(snap(1, 5, 100)); err != nil {
		t.Fatalf("a Put on a full disk with records to drop: %v", err)
	}
	n, b, dropped, _ := s.Stats()
	if n != 3 || dropped != 2 || b != before-2*recordSize(t, 100)+recordSize(t, 100) {
		t.Fatalf("after two disk-full retries: %d records, %d bytes (%d before), %d dropped", n, b, before, dropped)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*"+tmpSuffix)); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{1, 4, 5}) {
		t.Fatalf("kept %v, want the full 1 and 4 and the new 5: health goes first", got)
	}

	// Nothing left to drop: the Put fails, and holds nothing.
	s.sync = func(f *os.File) error { return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC} }
	err := s.Put(snap(1, 6, 100))
	if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "spool: ") {
		t.Fatalf("a Put on a full disk with nothing to drop: %v", err)
	}
	if n, b, _, _ := s.Stats(); n != 0 || b != 0 || s.reserved != 0 || len(s.writing) != 0 {
		t.Fatalf("after a failed Put: %d records, %d bytes, %d reserved, %d writes", n, b, s.reserved, len(s.writing))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed Put left %d files", len(entries))
	}
	s.sync = nil
	if err := s.Put(snap(1, 6, 100)); err != nil {
		t.Fatalf("a Put once there is room: %v", err)
	}
	if got := drain(t, s); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("kept %v, want 6", got)
	}
}

// TestWriteErrorDropsNothing: a write that fails for another reason than
// a full disk fails the Put and drops no record.
func TestWriteErrorDropsNothing(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	for i := uint64(1); i <= 2; i++ {
		if err := s.Put(snap(1, i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	s.sync = func(f *os.File) error { return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO} }
	if err := s.Put(snap(1, 3, 100)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a Put whose write fails: %v", err)
	}
	if n, _, dropped, _ := s.Stats(); n != 2 || dropped != 0 {
		t.Fatalf("after an I/O error: %d records, %d dropped; want 2 and none", n, dropped)
	}
}

// TestOpenTakesOnlyRecords: Open counts the records it finds, by their
// size on disk, removes temporary files and leaves everything else alone;
// a cap of zero or less is the default one.
func TestOpenTakesOnlyRecords(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := uint64(1); i <= 3; i++ {
		if err := s.Put(snap(1, i, 10*int(i))); err != nil {
			t.Fatal(err)
		}
	}
	_, want, _, _ := s.Stats()
	if err := os.Mkdir(filepath.Join(dir, "sub"+suffix), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "half"+suffix+tmpSuffix)
	if err := os.WriteFile(tmp, []byte("SSP1"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, capBytes := range []int64{0, -1} {
		s, err := Open(dir, capBytes, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Cap() != DefaultCap {
			t.Errorf("cap %d: Cap() = %d, want DefaultCap", capBytes, s.Cap())
		}
		if n, b, _, _ := s.Stats(); n != 3 || b != want {
			t.Errorf("reopened: %d records, %d bytes; want 3, %d", n, b, want)
		}
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file kept: %v", err)
	}
	for _, kept := range []string{"sub" + suffix, "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
	if s := open(t, dir, 1234); s.Cap() != 1234 {
		t.Errorf("Cap() = %d, want 1234", s.Cap())
	}
	// Without a logger, the spool logs what it drops to the default one.
	one := recordSize(t, 10)
	s, err := Open(t.TempDir(), one, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 2; i++ {
		if err := s.Put(snap(1, i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, dropped, _ := s.Stats(); dropped != 1 {
		t.Errorf("%d dropped, want 1", dropped)
	}
	if _, err := Open(filepath.Join(dir, "notes.txt", "spool"), 0, nil); err == nil {
		t.Error("opened a spool under a file")
	}
}

// TestRemove: Remove takes a record out of the count and off the disk;
// removing one that is gone, or was never there, is not an error.
func TestRemove(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := uint64(1); i <= 3; i++ {
		if err := s.Put(snap(1, i, 100*int(i))); err != nil {
			t.Fatal(err)
		}
	}
	_, all, _, _ := s.Stats()
	second := ID(recordName(snap(1, 2, 0)))
	info, err := os.Stat(filepath.Join(dir, string(second)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(second); err != nil {
		t.Fatal(err)
	}
	if n, b, _, _ := s.Stats(); n != 2 || b != all-onDisk(info.Size()) {
		t.Fatalf("after Remove: %d records, %d bytes; want 2, %d", n, b, all-onDisk(info.Size()))
	}
	if _, err := os.Stat(filepath.Join(dir, string(second))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed record still on disk: %v", err)
	}
	for _, id := range []ID{second, "no-such-record" + suffix} {
		if err := s.Remove(id); err != nil {
			t.Errorf("Remove(%s): %v", id, err)
		}
	}
	// A record deleted behind the spool's back is forgotten too.
	third := ID(recordName(snap(1, 3, 0)))
	if err := os.Remove(filepath.Join(dir, string(third))); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(third); err != nil {
		t.Errorf("Remove of a record already gone: %v", err)
	}
	// After a removed record, the walk goes on from the next one.
	m, id, err := s.After(second)
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("After(the removed second) = %v, %v, %v; want the spool empty past it", m, id, err)
	}
	if m, _, err := s.After(""); err != nil || m.Seq != 1 {
		t.Errorf("After(\"\") = %v, %v; want seq 1", m, err)
	}
}

// TestRecordNames: a record's name is its boot epoch and sequence number,
// zero-padded, and its kind, so that the names sort in capture order and
// the cap can tell health records from full ones.
func TestRecordNames(t *testing.T) {
	if got, want := recordName(snap(17, 42, 0)), "00000000000000000017-00000000000000000042-h.rec"; got != want {
		t.Errorf("health record name %q, want %q", got, want)
	}
	if got, want := recordName(full(42)), "00000000000000000001-00000000000000000042-f.rec"; got != want {
		t.Errorf("full record name %q, want %q", got, want)
	}
}

// TestNoFileLeftOpen: the spool holds no file open between calls: an
// agent runs for months, and every Put, read and Remove opens files.
func TestNoFileLeftOpen(t *testing.T) {
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count open files here: %v", err)
		}
		return len(entries)
	}
	s := open(t, t.TempDir(), 0)
	before := fds()
	for i := uint64(1); i <= 20; i++ {
		if err := s.Put(snap(1, i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(t, s); len(got) != 20 {
		t.Fatalf("drained %d records, want 20", len(got))
	}
	if after := fds(); after != before {
		t.Errorf("%d files open before 20 Puts and Removes, %d after", before, after)
	}
}

// TestCapCountsBlocks: records far smaller than a block each count as the
// block they take on disk, so a flood of tiny health snapshots (a collector
// asking for one every nanosecond) fills no more of the disk than the cap:
// ten blocks hold ten records, however small.
func TestCapCountsBlocks(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 10*block)
	for i := uint64(1); i <= 100; i++ {
		if err := s.Put(snap(1, i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	n, b, dropped, _ := s.Stats()
	if n != 10 || b != 10*block || dropped != 90 {
		t.Errorf("%d records, %d bytes, %d dropped; want 10, %d, 90", n, b, dropped, 10*block)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 10 {
		t.Errorf("%d files in the spool, want 10", len(entries))
	}
}

// TestSizes: a record counts whole blocks against the cap, and in memory
// its frame and its probes' data and errors, held up to maxHeld exactly.
func TestSizes(t *testing.T) {
	for size, want := range map[int64]int64{0: 0, 1: block, block - 1: block, block: block, block + 1: 2 * block} {
		if got := onDisk(size); got != want {
			t.Errorf("onDisk(%d) = %d, want %d", size, got, want)
		}
	}
	r := Record{ID: "r", Frame: make([]byte, 10), Snapshot: &protocol.Snapshot{Probes: []protocol.ProbeResult{
		{Name: "cpu", Data: make([]byte, 5)}, {Name: "disk", Error: "boom"}}}}
	if got := heldSize(r); got != 19 {
		t.Errorf("heldSize = %d, want 19 (frame 10, data 5, error 4)", got)
	}
	s := open(t, t.TempDir(), 0)
	r.Frame = make([]byte, maxHeld-9)
	s.hold(r)
	if s.heldBytes != maxHeld || len(s.held) != 1 {
		t.Errorf("a record of exactly maxHeld: %d bytes, %d records held; want it held", s.heldBytes, len(s.held))
	}
}

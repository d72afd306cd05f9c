// Package spool keeps snapshots the agent could not deliver on disk, in
// capture order, until the collector acknowledges them.
//
// Each record is one file named by the snapshot's boot epoch and sequence
// number, zero-padded so that lexical order is capture order, and tagged h
// for a health snapshot or f for a full one (asked for, or taken at a
// fault). When the cap or the disk is full, the oldest health snapshot goes
// first: a full snapshot is what L2 needs most. A record is a
// small header (magic, payload length, CRC32C of the payload) followed by the
// snapshot as a protocol frame. Records are written to a temporary file,
// synced and renamed into place, and the directory is synced after, so a
// crash leaves either a whole record or none. A record that fails its checks
// is skipped, counted and deleted.
//
// A record put on its way out over a live connection (PutLive) is written
// and renamed into place but not synced: the collector acknowledges it
// within moments, and it is removed before the kernel writes it back. It
// is synced at the next Put if it is still there, and a live put into a
// spool that holds other records (they wait, so may it) is synced at once.
// A crash of the agent loses nothing (the file is in the kernel's cache);
// a power cut can lose that one record, a health snapshot, and a torn file
// it leaves is found damaged, skipped and counted.
//
// Removing an acknowledged record is not synced: a record that a crash
// brings back is sent again, and the collector acknowledges it as a
// duplicate without storing it twice (it keeps one snapshot per boot epoch
// and sequence number); the next synced Put's directory sync makes the
// removal durable anyway. The records this process wrote are kept in
// memory too, within maxHeld bytes, so that sending them reads nothing
// back from disk.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/sondehq/sonde/internal/limitfile"
	"github.com/sondehq/sonde/protocol"
)

// DefaultCap is the default size cap of a spool in bytes.
const DefaultCap = 100 << 20

// block is the unit a record's size counts in against the cap: a file
// takes whole blocks on disk, 4 KiB on the common file systems (ext4,
// XFS, NTFS, APFS), so that many small records cannot fill more of the
// disk than the cap says (a 1 KiB health record takes 4 KiB).
const block = 4 << 10

// onDisk is what a record of size bytes takes on disk, in whole blocks.
func onDisk(size int64) int64 {
	return (size + block - 1) / block * block
}

const (
	magic     = "SSP1"
	headerLen = 4 + 4 + 4 // magic, payload length, CRC32C
	suffix    = ".rec"
	tmpSuffix = ".tmp"
	healthTag = "-h" + suffix
	maxRecord = headerLen + protocol.MaxFrameSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrEmpty is returned by Next when the spool holds no record.
var ErrEmpty = errors.New("spool: empty")

// ErrTooLarge is returned by Put when one record exceeds the whole cap.
var ErrTooLarge = errors.New("spool: record larger than the cap")

// ID names one record in a spool.
type ID string

// Record is one spooled snapshot.
type Record struct {
	ID       ID
	Snapshot *protocol.Snapshot
	// Frame is the snapshot as one protocol frame, as stored: what the
	// agent sends, without encoding it again.
	Frame []byte
}

// maxHeld bounds the records a spool keeps in memory (see heldSize): a
// health snapshot is a few kilobytes, and records past the bound are read
// back from disk when sent, as after a restart.
const maxHeld = 1 << 20

// heldSize is what keeping r in memory costs, about: its frame and its
// probes' data.
func heldSize(r Record) int64 {
	n := len(r.Frame)
	for _, p := range r.Snapshot.Probes {
		n += len(p.Data) + len(p.Error)
	}
	return int64(n)
}

// Spool is a bounded on-disk queue of snapshots. It is safe for concurrent
// use.
type Spool struct {
	dir string
	cap int64
	log *slog.Logger

	// sync makes a written record durable; tests replace it to stand for
	// a slow disk. nil means (*os.File).Sync.
	sync func(*os.File) error

	mu      sync.Mutex
	changed *sync.Cond // a write finished: s.writing or s.reserved changed
	names   []string   // record file names, in order
	sizes   map[string]int64
	bytes   int64 // of the records in names
	// writing holds the records being written: they are not readable
	// yet, but their size is reserved under the cap.
	writing  map[string]bool
	reserved int64
	dropped  uint64
	corrupt  uint64
	// held are the records this process wrote, by name, while they fit
	// in maxHeld (heldBytes).
	held      map[string]Record
	heldBytes int64
	// unsynced names the records PutLive wrote without a sync, while
	// they are in the spool: the next Put syncs them.
	unsynced []string
}

// Open opens the spool in dir, creating it if needed. capBytes bounds the
// total size of the records; 0 or less means DefaultCap. Leftover temporary
// files from an interrupted write are removed.
func Open(dir string, capBytes int64, log *slog.Logger) (*Spool, error) {
	if capBytes <= 0 {
		capBytes = DefaultCap
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, cap: capBytes, log: log, sizes: map[string]int64{}, writing: map[string]bool{}, held: map[string]Record{}}
	s.changed = sync.NewCond(&s.mu)
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(name, tmpSuffix):
			os.Remove(filepath.Join(dir, name))
		case strings.HasSuffix(name, suffix):
			info, err := e.Info()
			if err != nil {
				continue
			}
			s.names = append(s.names, name)
			size := onDisk(info.Size())
			s.sizes[name] = size
			s.bytes += size
		}
	}
	sort.Strings(s.names)
	return s, nil
}

// recordName is the file name of a snapshot's record.
func recordName(snap *protocol.Snapshot) string {
	tag := "f"
	if snap.Kind == protocol.KindHealth {
		tag = "h"
	}
	return fmt.Sprintf("%020d-%020d-%s%s", snap.BootEpoch, snap.Seq, tag, suffix)
}

// Put stores snap. To stay within the cap, or when the disk is full, it
// drops the oldest health snapshots first, then the oldest full ones. The
// spool may keep snap and hand it out again (RecordAfter): the caller does
// not change it afterwards.
//
// The record is written and synced without holding the spool's lock, so
// that Stats, After and Remove never wait for the disk: under the lock Put
// only reserves the record's size (dropping records to make room) and,
// once the record is durable, makes it readable. Concurrent Puts of the
// same snapshot take turns.
func (s *Spool) Put(snap *protocol.Snapshot) error {
	return s.put(snap, false)
}

// PutLive is Put for a snapshot about to be sent over a live connection,
// whose acknowledgement is moments away: the record is not synced unless
// other records are in the spool, and is synced at the next Put if it is
// still there (see the package comment).
func (s *Spool) PutLive(snap *protocol.Snapshot) error {
	return s.put(snap, true)
}

func (s *Spool) put(snap *protocol.Snapshot, live bool) error {
	payload, err := protocol.Append(nil, snap)
	if err != nil {
		return fmt.Errorf("spool: encoding: %w", err)
	}
	rec := make([]byte, headerLen, headerLen+len(payload))
	copy(rec, magic)
	binary.BigEndian.PutUint32(rec[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[8:], crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	size := onDisk(int64(len(rec)))
	if size > s.cap {
		return fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, size, s.cap)
	}
	name := recordName(snap)

	s.mu.Lock()
	if err := s.reserve(name, size); err != nil {
		s.mu.Unlock()
		return err
	}
	durable := !live || len(s.names) > 0 || len(s.writing) > 1
	waiting := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	s.syncRecords(waiting)
	for {
		err := s.writeFile(name, rec, durable)
		s.mu.Lock()
		if err == nil {
			i := sort.SearchStrings(s.names, name)
			s.names = slices.Insert(s.names, i, name)
			s.sizes[name] = size
			s.bytes += size
			s.hold(Record{ID: ID(name), Snapshot: snap, Frame: payload})
			if !durable {
				s.unsynced = append(s.unsynced, name)
			}
			s.release(name, size)
			s.mu.Unlock()
			return nil
		}
		if errors.Is(err, syscall.ENOSPC) && len(s.names) > 0 {
			err = s.drop("disk full")
			if err == nil {
				s.mu.Unlock()
				continue
			}
		} else {
			err = fmt.Errorf("spool: %w", err)
		}
		s.release(name, size)
		s.mu.Unlock()
		return err
	}
}

// reserve makes room for a record of size under the cap, dropping the
// oldest records as needed, and marks name as being written. It waits
// while the same record is being written by another Put, or while only
// records still being written stand in the way. The caller holds s.mu.
func (s *Spool) reserve(name string, size int64) error {
	for {
		if s.writing[name] {
			s.changed.Wait()
			continue
		}
		if old, ok := s.sizes[name]; ok {
			// The same snapshot again: its file is replaced in place.
			s.bytes -= old
			s.removeName(name)
		}
		if s.bytes+s.reserved+size <= s.cap {
			break
		}
		if len(s.names) > 0 {
			if err := s.drop("spool full"); err != nil {
				return err
			}
			continue
		}
		// Only records being written hold the room: once written, they
		// can be dropped.
		s.changed.Wait()
	}
	s.writing[name] = true
	s.reserved += size
	return nil
}

// release ends the write of name, whether or not it succeeded. The caller
// holds s.mu.
func (s *Spool) release(name string, size int64) {
	delete(s.writing, name)
	s.reserved -= size
	s.changed.Broadcast()
}

// drop removes the oldest health record, or the oldest record when there
// is no health one, and counts it; the caller holds s.mu.
func (s *Spool) drop(why string) error {
	victim := s.names[0]
	for _, n := range s.names {
		if strings.HasSuffix(n, healthTag) {
			victim = n
			break
		}
	}
	if err := os.Remove(filepath.Join(s.dir, victim)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: dropping %s: %w", victim, err)
	}
	s.bytes -= s.sizes[victim]
	s.removeName(victim)
	s.dropped++
	s.log.Warn(why+": dropped a spooled snapshot", "record", victim, "cap", s.cap, "dropped", s.dropped)
	return nil
}

// syncRecords syncs the records a live put left unsynced, those still in
// the spool, and then the folder that holds their names. A record removed
// meanwhile needs nothing; one that cannot be synced is logged and left
// (the kernel still writes it back in its own time).
func (s *Spool) syncRecords(names []string) {
	synced := false
	for _, name := range names {
		f, err := os.Open(filepath.Join(s.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = s.syncFile(f)
			f.Close()
		}
		if err != nil {
			s.log.Warn("spool: syncing a record", "record", name, "err", err)
			continue
		}
		synced = true
	}
	if synced {
		if err := syncDir(s.dir); err != nil {
			s.log.Warn("spool: syncing the folder", "err", err)
		}
	}
}

// syncFile makes f durable (see Spool.sync).
func (s *Spool) syncFile(f *os.File) error {
	if s.sync != nil {
		return s.sync(f)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	return nil
}

// writeFile writes data to the record name through a temporary file and
// renames it into place; when durable, the file is synced before the
// rename and the directory after it. No two writes of one name run at once
// (see reserve), so the temporary file is the caller's alone.
func (s *Spool) writeFile(name string, data []byte, durable bool) error {
	dir := s.dir
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing spool record %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = s.syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing spool record %s: %w", name, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable. Some platforms cannot
// sync a directory; that is not an error there.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing the spool folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("syncing the spool folder: %w", err)
	}
	return nil
}

// hold keeps r in memory if it fits in maxHeld; the caller holds s.mu.
func (s *Spool) hold(r Record) {
	if size := heldSize(r); s.heldBytes+size <= maxHeld {
		s.held[string(r.ID)] = r
		s.heldBytes += size
	}
}

// removeName forgets name; the caller holds s.mu.
func (s *Spool) removeName(name string) {
	if i := slices.Index(s.unsynced, name); i >= 0 {
		s.unsynced = slices.Delete(s.unsynced, i, i+1)
	}
	if r, ok := s.held[name]; ok {
		s.heldBytes -= heldSize(r)
		delete(s.held, name)
	}
	delete(s.sizes, name)
	i := sort.SearchStrings(s.names, name)
	if i < len(s.names) && s.names[i] == name {
		s.names = append(s.names[:i], s.names[i+1:]...)
	}
}

// Next returns the oldest readable record without removing it. Corrupt or
// truncated records met on the way are counted and deleted. It returns
// ErrEmpty when nothing is left.
func (s *Spool) Next() (*protocol.Snapshot, ID, error) {
	return s.After("")
}

// After returns the oldest readable record that comes after id, or the
// oldest of all when id is empty, so a caller can walk the spool in order
// while earlier records await their acks.
func (s *Spool) After(id ID) (*protocol.Snapshot, ID, error) {
	r, err := s.RecordAfter(id)
	return r.Snapshot, r.ID, err
}

// RecordAfter is After, with the record's frame: from memory when this
// process wrote it (see maxHeld), else read back and checked.
func (s *Spool) RecordAfter(id ID) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		i := 0
		if id != "" {
			i = sort.Search(len(s.names), func(k int) bool { return s.names[k] > string(id) })
		}
		if i >= len(s.names) {
			return Record{}, ErrEmpty
		}
		name := s.names[i]
		if r, ok := s.held[name]; ok {
			return r, nil
		}
		r, err := s.read(name)
		if err == nil {
			return r, nil
		}
		s.corrupt++
		s.log.Warn("spool: skipping a damaged record", "record", name, "err", err, "corrupt", s.corrupt)
		os.Remove(filepath.Join(s.dir, name))
		s.bytes -= s.sizes[name]
		s.removeName(name)
	}
}

// read loads and checks one record; the caller holds s.mu.
func (s *Spool) read(name string) (Record, error) {
	b, err := limitfile.Read(filepath.Join(s.dir, name), maxRecord)
	if err != nil {
		return Record{}, err
	}
	if len(b) < headerLen || string(b[:4]) != magic {
		return Record{}, errors.New("bad header")
	}
	n := binary.BigEndian.Uint32(b[4:])
	payload := b[headerLen:]
	if uint64(len(payload)) != uint64(n) {
		return Record{}, fmt.Errorf("payload is %d bytes, header says %d", len(payload), n)
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		return Record{}, errors.New("checksum mismatch")
	}
	m, used, err := protocol.Decode(payload)
	if err != nil {
		return Record{}, fmt.Errorf("decoding: %w", err)
	}
	if used != len(payload) {
		return Record{}, errors.New("trailing bytes after the snapshot")
	}
	snap, ok := m.(*protocol.Snapshot)
	if !ok {
		return Record{}, fmt.Errorf("record holds a %s, not a snapshot", m.Type())
	}
	if recordName(snap) != name {
		return Record{}, fmt.Errorf("record holds snapshot %s", recordName(snap))
	}
	return Record{ID: ID(name), Snapshot: snap, Frame: payload}, nil
}

// Remove deletes a record, once the collector has acknowledged it. Removing
// a record that is already gone is not an error. The removal is not synced
// (see the package comment).
func (s *Spool) Remove(id ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := string(id)
	size, ok := s.sizes[name]
	if !ok {
		return nil
	}
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	s.bytes -= size
	s.removeName(name)
	return nil
}

// Cap is the spool's size cap in bytes.
func (s *Spool) Cap() int64 { return s.cap }

// Stats reports the records held, the disk they take (whole blocks, see
// block), and how many records
// were dropped for the cap or found damaged since Open.
func (s *Spool) Stats() (records int, bytes int64, dropped, corrupt uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.names), s.bytes, s.dropped, s.corrupt
}

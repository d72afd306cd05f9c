package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// record frames payload as a spool record, with a correct header.
func record(payload []byte) []byte {
	rec := make([]byte, headerLen, headerLen+len(payload))
	copy(rec, magic)
	binary.BigEndian.PutUint32(rec[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[8:], crc32.Checksum(payload, castagnoli))
	return append(rec, payload...)
}

// wellFormed checks rec, kept under name, as the spool's format says,
// independently of Spool.read, and returns the snapshot it holds.
func wellFormed(rec []byte, name string) (*protocol.Snapshot, error) {
	if len(rec) < headerLen || !bytes.Equal(rec[:4], []byte(magic)) {
		return nil, errors.New("bad header")
	}
	payload := rec[headerLen:]
	if binary.BigEndian.Uint32(rec[4:]) != uint32(len(payload)) || uint64(len(payload)) > 1<<32-1 {
		return nil, errors.New("bad length")
	}
	if binary.BigEndian.Uint32(rec[8:]) != crc32.Checksum(payload, castagnoli) {
		return nil, errors.New("bad checksum")
	}
	m, n, err := protocol.Decode(payload)
	if err != nil {
		return nil, err
	}
	s, ok := m.(*protocol.Snapshot)
	if !ok || n != len(payload) {
		return nil, errors.New("not exactly one snapshot")
	}
	if recordName(s) != name {
		return nil, errors.New("another snapshot's record")
	}
	return s, nil
}

// FuzzRecord writes arbitrary bytes as a spool record, under the name the
// spool gives records, opens the spool and takes the next record. With
// reframe set the bytes are the payload and get a correct header, so that
// the fuzzer reaches the frame decoder behind the checksum. Nothing may
// panic; a damaged record is skipped, counted and deleted, never returned;
// a record returned is well formed and holds a valid snapshot.
func FuzzRecord(f *testing.F) {
	s0 := snap(1732400000, 42, 10)
	seedDir := f.TempDir()
	sp, err := Open(seedDir, 0, quiet())
	if err != nil {
		f.Fatal(err)
	}
	if err := sp.Put(s0); err != nil {
		f.Fatal(err)
	}
	big := snap(1732400000, 43, 4<<10) // compressed by Append
	if err := sp.Put(big); err != nil {
		f.Fatal(err)
	}
	for _, s := range []*protocol.Snapshot{s0, big} {
		rec, err := os.ReadFile(filepath.Join(seedDir, recordName(s)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec, false)
		f.Add(rec[headerLen:], true)
		f.Add(rec[:len(rec)-1], false)
		f.Add(append(bytes.Clone(rec), 0), false)
		flipped := bytes.Clone(rec)
		flipped[len(rec)-3] ^= 0x40
		f.Add(flipped, false)
		f.Add(flipped[headerLen:], true)
		f.Add(append(bytes.Clone(rec[headerLen:]), rec[headerLen:]...), true) // two frames
	}
	ack, err := protocol.Append(nil, &protocol.Ack{AgentID: "agent-1", Seq: 42})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ack, true)
	f.Add([]byte{}, false)
	f.Add([]byte{}, true)
	f.Add([]byte(magic), false)
	name := recordName(s0)
	f.Fuzz(func(t *testing.T, b []byte, reframe bool) {
		if reframe {
			b = record(b)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		sp, err := Open(dir, 0, quiet())
		if err != nil {
			t.Fatal(err)
		}
		want, werr := wellFormed(b, name)
		got, id, err := sp.Next()
		records, size, _, corrupt := sp.Stats()
		if err != nil {
			if !errors.Is(err, ErrEmpty) || got != nil || id != "" {
				t.Fatalf("Next: %v, %v, %v", got, id, err)
			}
			if werr == nil {
				t.Fatal("a well-formed record was skipped")
			}
			if records != 0 || size != 0 || corrupt != 1 {
				t.Fatalf("after a damaged record: %d records, %d bytes, %d corrupt", records, size, corrupt)
			}
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the damaged record is still there: %v", err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("a damaged record was returned (%v): %+v", werr, got)
		}
		if id != ID(name) || records != 1 || size != onDisk(int64(len(b))) || corrupt != 0 {
			t.Fatalf("record %s: %d records, %d bytes, %d corrupt", id, records, size, corrupt)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("returned an invalid snapshot: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("returned %+v, the record holds %+v", got, want)
		}
		if _, _, err := sp.After(id); !errors.Is(err, ErrEmpty) {
			t.Fatalf("After the only record: %v", err)
		}
		if again, id2, err := sp.Next(); err != nil || id2 != id || !reflect.DeepEqual(again, got) {
			t.Fatalf("Next again: %v, %v", id2, err)
		}
		if err := sp.Remove(id); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sp.Next(); !errors.Is(err, ErrEmpty) {
			t.Fatalf("after Remove: %v", err)
		}
	})
}

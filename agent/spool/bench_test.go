package spool

import "testing"

// BenchmarkPutRemove is what the spool adds to every snapshot the agent
// takes on its own: written and synced before it is sent, removed once
// acknowledged.
func BenchmarkPutRemove(b *testing.B) {
	s := open(b, b.TempDir(), 0)
	m := snap(1, 0, 2500) // about a health snapshot
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Seq = uint64(i + 1)
		if err := s.Put(m); err != nil {
			b.Fatal(err)
		}
		_, id, err := s.Next()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(id); err != nil {
			b.Fatal(err)
		}
	}
}

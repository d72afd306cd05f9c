package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// nonceN returns a distinct nonce for each i.
func nonceN(i int) string {
	return string(binary.BigEndian.AppendUint64(make([]byte, 8, nonceLen), uint64(i)))
}

// checkNonces checks the memory's bookkeeping: the count is what the
// buckets and the map hold, and never past limit.
func checkNonces(t *testing.T, s *nonces, limit int) {
	t.Helper()
	inBuckets := 0
	for i := range s.buckets {
		inBuckets += len(s.buckets[i].list)
	}
	if s.n != inBuckets || s.n != len(s.seen) || s.n > limit {
		t.Fatalf("%d nonces counted, %d in buckets, %d in the map; limit %d", s.n, inBuckets, len(s.seen), limit)
	}
}

// TestNoncesFlood: a flood of fresh requests, far past the limit: the
// memory never holds more than its limit; every nonce accepted whose
// request has not expired is either remembered or its request refused as
// expiring by the floor (never accepted again). Requests that all live as
// long (as a collector's do) are still served under the flood: the ones
// forgotten expire before any new one.
func TestNoncesFlood(t *testing.T) {
	const limit = 500
	rnd := rand.New(rand.NewPCG(5, 6))
	type accepted struct {
		nonce string
		exp   int64
	}
	for _, phase := range []struct {
		name    string
		life    func() int64
		served  int // at least, of 5,000
		refused string
	}{
		{"random lives", func() int64 { return 1 + rnd.Int64N(int64(MaxRequestLife/time.Millisecond)) }, limit, "remembers too many requests (500)"},
		{"a minute each", func() int64 { return int64(time.Minute / time.Millisecond) }, 4500, ""},
	} {
		var s nonces
		now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixMilli()
		var all []accepted
		for i := range 5000 {
			now += int64(rnd.IntN(100)) // 20 a second
			nonce := nonceN(i)
			exp := now + phase.life()
			b, err := s.check(nonce, exp, now, limit)
			if err != nil {
				if !errors.Is(err, ErrReplayed) || phase.refused == "" || !strings.Contains(err.Error(), phase.refused) {
					t.Fatalf("%s: a fresh request refused: %v", phase.name, err)
				}
				continue
			}
			s.add(b, nonce)
			all = append(all, accepted{nonce, exp})
			checkNonces(t, &s, limit)
		}
		t.Logf("%s: %d of 5000 served", phase.name, len(all))
		if len(all) < phase.served {
			t.Errorf("%s: %d of 5000 served, want at least %d", phase.name, len(all), phase.served)
		}
		for _, a := range all {
			if a.exp <= now {
				continue // refused as expired before the memory is asked
			}
			if _, err := s.check(a.nonce, a.exp, now, limit); !errors.Is(err, ErrReplayed) {
				t.Fatalf("%s: a request accepted before, alive until %d (floor %d), was not refused: %v", phase.name, a.exp, s.floor, err)
			}
		}
	}
}

// TestNoncesEmptyWhenIdle: once every request has expired, the memory
// holds nothing, whatever it held.
func TestNoncesEmptyWhenIdle(t *testing.T) {
	var s nonces
	now := int64(1_000_000_000_000)
	for i := range MaxNonces {
		b, err := s.check(nonceN(i), now+int64(i%600)*1000+1, now, MaxNonces)
		if err != nil {
			t.Fatal(err)
		}
		s.add(b, nonceN(i))
	}
	checkNonces(t, &s, MaxNonces)
	if s.n != MaxNonces {
		t.Fatalf("%d remembered, want %d", s.n, MaxNonces)
	}
	later := now + int64(MaxRequestLife/time.Millisecond) + nonceBucket
	b, err := s.check(nonceN(-1), later+1000, later, MaxNonces)
	if err != nil {
		t.Fatal(err)
	}
	s.add(b, nonceN(-1))
	if s.n != 1 || len(s.seen) != 1 {
		t.Errorf("%d remembered ten minutes on, want the one new", s.n)
	}
}

// TestVerifierAcrossRestart: what an agent kept through Keep, given back
// as Floor after a restart, refuses the requests it accepted before; a
// request expiring later is served, and kept.
func TestVerifierAcrossRestart(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	sign := func(n byte, life time.Duration) *SnapshotRequest {
		r := &SnapshotRequest{RequestID: testRequestID, Deadline: now.Add(life).UnixMilli()}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{n}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var disk []time.Time
	keep := func(exp time.Time) error { disk = append(disk, exp); return nil }
	before := &Verifier{Key: pub, AgentID: testAgentID, Keep: keep}
	long, short := sign(1, 2*time.Minute), sign(2, time.Minute)
	for _, r := range []*SnapshotRequest{long, short} {
		if err := before.Verify(r, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(disk) != 1 || !disk[0].Equal(time.UnixMilli(long.Deadline)) {
		t.Fatalf("kept %v, want only the later expiry %v", disk, time.UnixMilli(long.Deadline))
	}

	// The agent restarts a second on.
	now = now.Add(time.Second)
	after := &Verifier{Key: pub, AgentID: testAgentID, Floor: disk[len(disk)-1], Keep: keep}
	for _, r := range []*SnapshotRequest{long, short} {
		err := after.Verify(r, now)
		if !errors.Is(err, ErrReplayed) || !strings.Contains(err.Error(), "accepted before it restarted") {
			t.Errorf("a request accepted before the restart, again: %v", err)
		}
	}
	fresh := sign(3, 3*time.Minute)
	if err := after.Verify(fresh, now); err != nil {
		t.Fatalf("a new request after the restart: %v", err)
	}
	if !disk[len(disk)-1].Equal(time.UnixMilli(fresh.Deadline)) {
		t.Errorf("the new request's expiry was not kept: %v", disk)
	}
	if err := after.Verify(fresh, now); !errors.Is(err, ErrReplayed) {
		t.Errorf("the new request again: %v", err)
	}
}

// TestVerifierKeepFails: a request whose expiry cannot be kept is refused,
// saying why, and not remembered: once the agent can keep it, it is
// served.
func TestVerifierKeepFails(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := &SnapshotRequest{RequestID: testRequestID, Deadline: now.Add(time.Minute).UnixMilli()}
	if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{1}, nonceLen)); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("read-only file system")
	v := &Verifier{Key: pub, AgentID: testAgentID, Keep: func(time.Time) error { return broken }}
	if err := v.Verify(r, now); !errors.Is(err, broken) || !strings.Contains(err.Error(), "could not record the request against replays") {
		t.Fatalf("a request that could not be kept: %v", err)
	}
	v.Keep = func(time.Time) error { return nil }
	if err := v.Verify(r, now); err != nil {
		t.Fatalf("the same request once it can be kept: %v", err)
	}
}

// BenchmarkVerifierMemory measures one check of a replayed nonce, and of a
// fresh one, with the memory empty and full: the cost must not grow with
// what it holds (a map look-up and a pass over its 62 buckets; it was a
// pass over every nonce remembered).
func BenchmarkVerifierMemory(b *testing.B) {
	for _, held := range []int{1, MaxNonces} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			var s nonces
			now := int64(1_000_000_000_000)
			for i := range held {
				bk, err := s.check(nonceN(i), now+int64(i%600)*1000+1, now, MaxNonces)
				if err != nil {
					b.Fatal(err)
				}
				s.add(bk, nonceN(i))
			}
			replayed := nonceN(0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.check(replayed, now+1, now, MaxNonces); err == nil {
					b.Fatal("a replay was accepted")
				}
			}
		})
	}
}

package protocol

import (
	"fmt"
	"time"
)

// MaxNonces bounds the nonces a Verifier remembers: some 100 bytes each,
// 400 KB at most. An agent accepts a request at most once a probe run, and
// requests live seconds to MaxRequestLife: thousands alive at once is a
// flood. When it is full, the nonces of the requests that expire first are
// forgotten, and requests expiring no later than those are refused from
// then on, rather than served again (see nonces.floor).
const MaxNonces = 4096

// Nonces are remembered in buckets by expiry, so that whole buckets are
// forgotten at once: nonceBucket of expiry each, as many as MaxRequestLife
// spans and two more (the bucket now is in, and the one a request living
// MaxRequestLife ends in).
const (
	nonceBucket  = int64(MaxRequestLife/time.Millisecond) / 60 // 10 s
	nonceBuckets = 62
)

// nonces is a Verifier's memory: each nonce accepted, until its request
// expires. Every check costs the same whatever it holds: one map look-up,
// a pass over the nonceBuckets buckets to forget those expired, and when
// full, forgetting the bucket that expires first.
//
// Its invariant: every nonce accepted whose request expires after floor is
// remembered; requests expiring at or before floor are refused.
type nonces struct {
	seen    map[string]struct{}
	buckets [nonceBuckets]nonceSet
	n       int
	// floor, in Unix milliseconds, rises as buckets are forgotten: to the
	// last expiry of each.
	floor int64
	// full records whether floor last rose because the memory was full
	// (rather than because the requests expired), to say so.
	full  bool
	limit int // as check was last given it
}

// nonceSet holds the nonces of requests expiring within one bucket.
type nonceSet struct {
	index int64 // expiry / nonceBucket
	list  []string
}

// end is the last expiry, in Unix milliseconds, a bucket holds.
func (b *nonceSet) end() int64 { return (b.index+1)*nonceBucket - 1 }

// check refuses nonce, of a request expiring at exp (both in Unix
// milliseconds, exp after now and at most MaxRequestLife after), if it was
// seen or may have been, and otherwise leaves room for it and says where
// it goes. It changes nothing the caller has to undo if it then refuses
// the request for another reason.
func (s *nonces) check(nonce string, exp, now int64, limit int) (*nonceSet, error) {
	if s.seen == nil {
		s.seen = make(map[string]struct{})
	}
	s.limit = limit
	for i := range s.buckets { // forget what can no longer be replayed
		if b := &s.buckets[i]; len(b.list) > 0 && b.end() < now {
			s.forget(b, false)
		}
	}
	if exp <= s.floor {
		return nil, s.belowFloor(exp)
	}
	if _, dup := s.seen[nonce]; dup {
		return nil, ErrReplayed
	}
	b := &s.buckets[(exp/nonceBucket)%nonceBuckets]
	if b.index != exp/nonceBucket && len(b.list) > 0 {
		// Only a clock set back leaves a bucket alive this far ahead.
		s.forget(b, true)
	}
	b.index = exp / nonceBucket
	for s.n >= limit {
		s.forget(s.oldest(), true)
	}
	if exp <= s.floor { // its own bucket was the oldest
		return nil, s.belowFloor(exp)
	}
	return b, nil
}

// add remembers nonce in b, as check returned it.
func (s *nonces) add(b *nonceSet, nonce string) {
	s.seen[nonce] = struct{}{}
	b.list = append(b.list, nonce)
	s.n++
}

// forget drops a bucket's nonces and raises floor past them.
func (s *nonces) forget(b *nonceSet, full bool) {
	for _, n := range b.list {
		delete(s.seen, n)
	}
	s.n -= len(b.list)
	clear(b.list)
	b.list = b.list[:0]
	if e := b.end(); e > s.floor {
		s.floor, s.full = e, full
	}
}

// oldest returns the non-empty bucket that expires first.
func (s *nonces) oldest() *nonceSet {
	var o *nonceSet
	for i := range s.buckets {
		if b := &s.buckets[i]; len(b.list) > 0 && (o == nil || b.index < o.index) {
			o = b
		}
	}
	return o
}

func (s *nonces) belowFloor(exp int64) error {
	if s.full {
		return fmt.Errorf("%w: the agent remembers too many requests (%d) to tell: it refuses those expiring by %s (this one at %s); ask again",
			ErrReplayed, s.limit, time.UnixMilli(s.floor).UTC().Format(time.RFC3339), time.UnixMilli(exp).UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: it expires at %s, no later than requests the agent may have accepted before it restarted (until %s); ask again",
		ErrReplayed, time.UnixMilli(exp).UTC().Format(time.RFC3339), time.UnixMilli(s.floor).UTC().Format(time.RFC3339))
}

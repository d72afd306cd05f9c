package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MaxRequestLife bounds how far in the future a request may expire; an
// agent refuses requests that claim to live longer.
const MaxRequestLife = 10 * time.Minute

const nonceLen = 16

// SigningBytes is what a request's signature covers: every field but the
// signature, in the canonical encoding, behind a context string so the
// signature cannot be taken for one over anything else.
func (m *SnapshotRequest) SigningBytes() ([]byte, error) {
	c := *m
	c.Signature = nil
	b, err := encMode.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encoding a snapshot request to sign: %w", err)
	}
	return append([]byte("sonde/1 snapshot-request\x00"), b...), nil
}

// Sign fills the nonce and signature of m for agentID.
func (m *SnapshotRequest) Sign(key ed25519.PrivateKey, agentID string, nonce []byte) error {
	if len(nonce) != nonceLen {
		return fmt.Errorf("nonce must be %d bytes", nonceLen)
	}
	m.AgentID, m.Nonce, m.Signature = agentID, nonce, nil
	b, err := m.SigningBytes()
	if err != nil {
		return err
	}
	m.Signature = ed25519.Sign(key, b)
	return nil
}

// Errors of VerifyRequest.
var (
	ErrUnsigned  = errors.New("request is not signed")
	ErrSignature = errors.New("request signature does not verify")
	ErrNotMine   = errors.New("request is for another agent")
	ErrExpired   = errors.New("request has expired")
	ErrReplayed  = errors.New("request was seen before")
)

// Verifier checks signed requests on the agent and remembers nonces until
// their requests expire, so none is accepted twice: at most MaxNonces of
// them, at the same cost a check however many it holds (see nonces).
type Verifier struct {
	Key     ed25519.PublicKey
	AgentID string
	// Floor refuses every request expiring at or before it, as one that
	// may have been accepted already: the agent sets it, when it starts, to
	// the latest expiry it accepted before (see Keep), so a request
	// accepted before a restart is not accepted again. Both are the
	// collector's clock: no skew between the agent's clock and the
	// collector's enters the comparison.
	Floor time.Time
	// Keep, when set, is called before a request is accepted with its
	// expiry, when that is later than Floor and than any expiry Keep was
	// given: the agent writes it down, to be the Floor after a restart. An
	// error refuses the request, for the guarantee could not be kept.
	Keep func(expiry time.Time) error

	mu     sync.Mutex
	seen   nonces
	kept   int64 // the latest expiry Keep took, Unix milliseconds
	loaded bool  // Floor was read into seen and kept
}

// Verify checks m at now: signed by the collector's request key, for this
// agent, not expired (nor expiring implausibly late), not replayed.
func (v *Verifier) Verify(m *SnapshotRequest, now time.Time) error {
	if len(m.Signature) == 0 || len(m.Nonce) == 0 {
		return ErrUnsigned
	}
	if len(v.Key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: this agent has no request key (re-enroll it)", ErrSignature)
	}
	b, err := m.SigningBytes()
	if err != nil || !ed25519.Verify(v.Key, b, m.Signature) {
		return ErrSignature
	}
	if m.AgentID != v.AgentID {
		return ErrNotMine
	}
	exp := time.UnixMilli(m.Deadline)
	if !exp.After(now) {
		return fmt.Errorf("%w (at %s)", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if exp.After(now.Add(MaxRequestLife)) {
		return fmt.Errorf("%w: expiry %s is too far ahead", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.loaded {
		if !v.Floor.IsZero() {
			v.seen.floor = v.Floor.UnixMilli()
			v.kept = v.seen.floor
		}
		v.loaded = true
	}
	bucket, err := v.seen.check(string(m.Nonce), m.Deadline, now.UnixMilli(), MaxNonces)
	if err != nil {
		return err
	}
	if v.Keep != nil && m.Deadline > v.kept {
		if err := v.Keep(exp); err != nil {
			return fmt.Errorf("the agent could not record the request against replays after a restart: %w", err)
		}
		v.kept = m.Deadline
	}
	v.seen.add(bucket, string(m.Nonce))
	return nil
}

package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"testing"
)

// TestHelloProof: a proof verifies for the agent, challenge, connection
// binding and key it was made for, and for nothing else.
func TestHelloProof(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	challenge := bytes.Repeat([]byte{1}, ChallengeLen)
	binding := bytes.Repeat([]byte{2}, bindingLen)
	proof := ProveHello(key, testAgentID, challenge, binding)
	if err := VerifyHelloProof(pub, testAgentID, challenge, binding, proof); err != nil {
		t.Fatalf("the proof does not verify: %v", err)
	}
	other := func(b []byte) []byte {
		o := bytes.Clone(b)
		o[len(o)-1] ^= 1
		return o
	}
	for _, c := range []struct {
		name               string
		pub                ed25519.PublicKey
		agent              string
		challenge, binding []byte
		proof              []byte
	}{
		{"another challenge", pub, testAgentID, other(challenge), binding, proof},
		{"another agent", pub, testAgentID + "x", challenge, binding, proof},
		// The ID and the challenge are adjacent: moving a byte from one to
		// the other changes what is signed.
		{"a byte moved from the agent ID to the challenge", pub, testAgentID[:len(testAgentID)-1], append([]byte{testAgentID[len(testAgentID)-1]}, challenge[:ChallengeLen-1]...), binding, proof},
		{"another connection's keying material", pub, testAgentID, challenge, other(binding), proof},
		{"another key's proof", pub, testAgentID, challenge, binding, ProveHello(otherKey, testAgentID, challenge, binding)},
		{"another public key", otherPub, testAgentID, challenge, binding, proof},
		{"a proof changed", pub, testAgentID, challenge, binding, other(proof)},
		{"no proof", pub, testAgentID, challenge, binding, nil},
		{"no request key", nil, testAgentID, challenge, binding, proof},
		{"no challenge", pub, testAgentID, nil, binding, ProveHello(key, testAgentID, nil, binding)},
		{"no binding", pub, testAgentID, challenge, nil, ProveHello(key, testAgentID, challenge, nil)},
	} {
		err := VerifyHelloProof(c.pub, c.agent, c.challenge, c.binding, c.proof)
		if !errors.Is(err, ErrNoProof) {
			t.Errorf("%s: VerifyHelloProof = %v, want ErrNoProof", c.name, err)
		}
	}
}

// TestHelloBindingNeedsAHandshake: keying material comes only from a
// completed handshake (transporttest checks that both ends of a real
// connection agree on it).
func TestHelloBindingNeedsAHandshake(t *testing.T) {
	if b, err := HelloBinding(tls.ConnectionState{}); err == nil {
		t.Fatalf("HelloBinding of no connection = %x, want an error", b)
	}
}

// TestHelloChallengeAndProofLengths: a challenge and a proof are absent or
// of their exact lengths.
func TestHelloChallengeAndProofLengths(t *testing.T) {
	for _, n := range []int{1, ChallengeLen - 1, ChallengeLen + 1} {
		h := &Hello{AgentID: testAgentID, Versions: []uint8{Version}, Challenge: make([]byte, n)}
		if err := h.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("a challenge of %d bytes: %v, want ErrInvalid", n, err)
		}
	}
	for _, n := range []int{1, ed25519.SignatureSize - 1, ed25519.SignatureSize + 1} {
		w := &Welcome{Proof: make([]byte, n)}
		if err := w.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("a proof of %d bytes: %v, want ErrInvalid", n, err)
		}
	}
	if err := (&Introduce{Probes: []string{"cpu", "cpu"}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("an introduce naming a probe twice: %v, want ErrInvalid", err)
	}
}

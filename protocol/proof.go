package protocol

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
)

// ChallengeLen is the length of a hello's challenge.
const ChallengeLen = 32

// HelloExporterLabel is the TLS exporter label (RFC 8446, section 7.5) of
// the keying material a hello proof covers. Both ends of one TLS
// connection, and only they, derive the same bytes under it.
const HelloExporterLabel = "EXPORTER-sonde-hello-proof"

// bindingLen is the length of the keying material a proof covers.
const bindingLen = 32

// helloProofContext comes first in what a proof signs, so the signature
// cannot be taken for one over anything else (a snapshot request's has
// its own context).
const helloProofContext = "sonde/1 hello-proof\x00"

// ErrNoProof is the agent's refusal of a collector whose Welcome did not
// prove it holds the request key.
var ErrNoProof = errors.New("the collector did not prove it holds the request key; nothing was sent")

// HelloBinding exports the keying material of a TLS connection that a
// hello proof covers: the same on both its ends, different on any other
// connection, so a proof made on the collector's connection to a man in the
// middle does not verify on the agent's connection to that man.
func HelloBinding(cs tls.ConnectionState) ([]byte, error) {
	if !cs.HandshakeComplete {
		return nil, errors.New("exporting TLS keying material for the hello proof: the TLS handshake is not complete")
	}
	b, err := cs.ExportKeyingMaterial(HelloExporterLabel, nil, bindingLen)
	if err != nil {
		return nil, fmt.Errorf("exporting TLS keying material for the hello proof: %w", err)
	}
	return b, nil
}

// helloProofBytes is what a proof signs: the context, the agent ID, the
// challenge and the binding. The last two are of fixed length, so the ID
// is unambiguous.
func helloProofBytes(agentID string, challenge, binding []byte) []byte {
	b := make([]byte, 0, len(helloProofContext)+len(agentID)+len(challenge)+len(binding))
	b = append(b, helloProofContext...)
	b = append(b, agentID...)
	b = append(b, challenge...)
	return append(b, binding...)
}

// ProveHello returns the collector's proof for a hello from agentID with
// challenge, on the connection whose HelloBinding is binding: a signature
// by the request key that signs snapshot requests.
func ProveHello(key ed25519.PrivateKey, agentID string, challenge, binding []byte) []byte {
	return ed25519.Sign(key, helloProofBytes(agentID, challenge, binding))
}

// VerifyHelloProof checks a Welcome's proof: made by the holder of the
// request key pub, for agentID, its challenge and this connection's
// binding. Any other proof, or none, is ErrNoProof.
func VerifyHelloProof(pub ed25519.PublicKey, agentID string, challenge, binding, proof []byte) error {
	switch {
	case len(pub) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: this agent has no request key to check it with (re-enroll it)", ErrNoProof)
	case len(challenge) != ChallengeLen || len(binding) != bindingLen:
		return fmt.Errorf("%w: no challenge or connection binding to check it against", ErrNoProof)
	case len(proof) == 0:
		return fmt.Errorf("%w: its welcome carries no proof (a collector older than the agent, or one without the key)", ErrNoProof)
	case !ed25519.Verify(pub, helloProofBytes(agentID, challenge, binding), proof):
		return fmt.Errorf("%w: its proof does not verify", ErrNoProof)
	}
	return nil
}

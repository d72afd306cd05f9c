package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// Greet says hello on a new stream of conn and returns the collector's
// Welcome. The hello says who the agent is and nothing of its machine; it
// carries a fresh challenge, which the Welcome's proof must sign with the
// request key (requestKey, its public half), bound to this TLS connection
// (protocol.VerifyHelloProof). Only then does intro, the machine's facts, go
// out on the same stream; without a good proof Greet returns an error
// wrapping protocol.ErrNoProof, having sent nothing but the hello, and the
// caller must send nothing more: a party with the collector's TLS
// certificate but not its request key (a TLS-terminating front end, a stolen
// certificate) learns the agent's ID and version, no more. It fills
// hello.Challenge. sonde-loadgen's simulated agents greet with it too.
func Greet(ctx context.Context, conn transport.Conn, requestKey ed25519.PublicKey, hello *protocol.Hello, intro *protocol.Introduce, timeout time.Duration) (*protocol.Welcome, error) {
	binding, err := protocol.HelloBinding(conn.ConnectionState())
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	hello.Challenge = make([]byte, protocol.ChallengeLen)
	if _, err := rand.Read(hello.Challenge); err != nil {
		return nil, fmt.Errorf("hello: making a challenge: %w", err)
	}
	var w *protocol.Welcome
	err = onStream(ctx, conn, timeout, func(str transport.Stream) error {
		if err := protocol.Write(str, hello); err != nil {
			return fmt.Errorf("sending the hello: %w", err)
		}
		var err error
		if w, err = protocol.ReadAs[*protocol.Welcome](str); err != nil {
			return fmt.Errorf("reading the welcome: %w", err)
		}
		if err := protocol.VerifyHelloProof(requestKey, hello.AgentID, hello.Challenge, binding, w.Proof); err != nil {
			return fmt.Errorf("checking the welcome: %w", err)
		}
		if err := protocol.Write(str, intro); err != nil {
			return fmt.Errorf("sending the introduce: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	return w, nil
}

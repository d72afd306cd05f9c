package ingest

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/sondehq/sonde/internal/transport"

	"github.com/sondehq/sonde/protocol"
)

// TestHungUp tells an agent gone away (not counted as a bad message) from
// one that sent something malformed.
func TestHungUp(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&transport.StreamError{Code: 0, Remote: true}, true},
		{fmt.Errorf("reading: %w", &transport.ApplicationError{Remote: true, Reason: "agent stopping"}), true},
		{&transport.Cause{Kind: transport.ErrIdleTimeout}, true},
		{fmt.Errorf("reading: %w", &transport.Cause{Kind: transport.ErrReset, Err: io.EOF}), true},
		{io.ErrUnexpectedEOF, false}, // a clean end mid-frame: malformed
		{io.EOF, false},
		{fmt.Errorf("%w: bad probe name", protocol.ErrInvalid), false},
		{errors.New("frame too large"), false},
	} {
		if got := hungUp(tt.err); got != tt.want {
			t.Errorf("hungUp(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

package receipt

import (
	"errors"
	"fmt"

	"github.com/sondehq/sonde/internal/safetext"
	"github.com/sondehq/sonde/protocol"
)

// What left the machine (Receipt.Sent), as the agent itself knows it:
// what it wrote to the connection, never what the collector says of it.
// Receipts written before the field have it empty: not known.
const (
	SentAll  = "all"  // the whole snapshot was written to the connection
	SentPart = "part" // writing it failed part way: some of it may have left
	SentNone = "none" // nothing was written: no connection, or kept here
)

// maxError bounds a receipt's note.
const maxError = 512

// SendError marks an error met once a snapshot's writing had begun, with
// how far it got. An error without one means nothing was written.
type SendError struct {
	Written bool // the whole snapshot was written to the connection
	Err     error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Sending marks err, met once the writing of a snapshot had begun;
// written says whether the writing completed. Nil stays nil.
func Sending(err error, written bool) error {
	if err == nil {
		return nil
	}
	return &SendError{Written: written, Err: err}
}

// Record sets r's outcome from sendErr, what sending it returned (nil:
// the collector acknowledged it): how much left the machine, whether it
// was acknowledged, and why not in the agent's words. A collector's
// refusal is quoted as its words, never taken as the verdict: a hostile
// collector that answers "not delivered" to a snapshot it received does
// not make the receipt say that nothing left.
func (r *Receipt) Record(sendErr error) {
	r.Delivered, r.Sent, r.Error = sendErr == nil, SentAll, ""
	if sendErr == nil {
		return
	}
	var se *SendError
	switch {
	case !errors.As(sendErr, &se):
		r.Sent = SentNone
	case !se.Written:
		r.Sent = SentPart
	}
	var pe *protocol.Error
	if errors.As(sendErr, &pe) {
		msg, _ := safetext.Bound(pe.Message, maxError, false)
		r.Error = fmt.Sprintf("the collector did not acknowledge it; it answered code %d, saying %q", pe.Code, msg)
		return
	}
	r.Error, _ = safetext.Bound(sendErr.Error(), maxError, false)
}

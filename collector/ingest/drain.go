package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// The pieces of Serve's orderly end (see Serve and handleConn).

// cut ends the exchanges still in flight once the drain timed out: it ends
// their context, and closes the connections under the reads and writes
// that do not watch it, telling the agents why; the transport's close
// ends the rest (enrollments).
func (s *Server) cut(cutWork context.CancelFunc) {
	cutWork()
	s.mu.Lock()
	conns := make([]transport.Conn, 0, len(s.conns))
	for _, ac := range s.conns {
		conns = append(conns, ac.conn)
	}
	s.mu.Unlock()
	var closing sync.WaitGroup
	for _, c := range conns {
		closing.Go(func() { c.CloseWithError(protocol.CodeUnavailable, shuttingDown) })
	}
	closing.Wait()
	s.tr.Close()
}

// shuttingDown is what agents are told when the collector stops.
const shuttingDown = "collector shutting down"

// inFlight is the number of snapshots being read and stored.
func (s *Server) inFlight() int { return len(s.slots) }

// lingerAfter gives the answer of an exchange that ended at last time to
// reach the agent before the connection closes: QUIC drops stream data not
// yet delivered when a connection closes, and an ack lost so would make
// the agent send its snapshot again. It waits a few round trips after
// last (25 ms to 1 s), or until the agent hangs up.
func lingerAfter(conn transport.Conn, last time.Time) {
	d := min(max(4*conn.Stats().SmoothedRTT, 25*time.Millisecond), time.Second)
	wait := time.Until(last.Add(d))
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-conn.Context().Done():
	}
}

package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// revokePoll is how often the server looks for newly revoked agents; a
// revoked agent's live connection is closed within it.
const revokePoll = 300 * time.Millisecond

// errRevoked refuses a revoked agent's handshake.
var errRevoked = errors.New("agent certificate revoked")

// loadRevoked reads the revoked agents from the store and closes the live
// connections of any among them.
func (s *Server) loadRevoked(ctx context.Context) error {
	ids, err := s.cfg.Store.Revoked(ctx)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	s.revoked.Store(&set)
	for _, id := range ids {
		if ac := s.lookup(id); ac != nil {
			s.log.Warn("closing a revoked agent's connection", "agent", id)
			ac.conn.CloseWithError(protocol.CodeUnauthorized, "agent revoked")
		}
	}
	return nil
}

// watchRevoked keeps the revocation set current until ctx ends.
func (s *Server) watchRevoked(ctx context.Context) {
	t := time.NewTicker(revokePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.loadRevoked(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reading revocations", "err", err)
			}
		}
	}
}

// verifyConnection refuses, during the TLS handshake, a client certificate
// of a revoked agent.
func (s *Server) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if set := s.revoked.Load(); set != nil && (*set)[cs.PeerCertificates[0].Subject.CommonName] {
		return errRevoked
	}
	return nil
}

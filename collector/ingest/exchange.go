package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// hello reads the agent's Hello on its first stream, checks it against the
// certificate and the store, answers Welcome and records the agent's facts.
// A hello with a challenge gets the request key's proof in the Welcome
// (protocol.ProveHello), and the facts follow on the same stream in an
// Introduce; a hello without one (an agent from before the challenge)
// carries them itself. It returns the agent's clock skew, when the agent
// sent its time.
func (s *Server) hello(ctx context.Context, conn transport.Conn, certID string) (skew, error) {
	ctx, cancel := context.WithTimeout(ctx, streamTimeout)
	defer cancel()
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return skew{}, fmt.Errorf("waiting for hello: %w", err)
	}
	defer str.Close()
	// Stop reading when done: otherwise the stream never completes and
	// keeps one of the agent's stream credits.
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(streamTimeout))
	h, err := protocol.ReadAs[*protocol.Hello](str)
	if err != nil {
		return skew{}, fmt.Errorf("reading hello: %w", err)
	}
	now := time.Now()
	if h.AgentID != certID {
		return skew{}, s.refuse(str, protocol.CodeUnauthorized, fmt.Sprintf("hello names agent %q but the certificate is for %q", h.AgentID, certID))
	}
	ag, err := s.cfg.Store.Agent(ctx, certID)
	if errors.Is(err, store.ErrNotFound) {
		return skew{}, s.refuse(str, protocol.CodeUnauthorized, "agent "+certID+" is not enrolled here")
	}
	if err == nil && ag.Pending {
		return skew{}, s.refuse(str, protocol.CodeUnauthorized, "agent "+certID+" awaits approval: sonde-collector agent approve "+certID)
	}
	if err != nil {
		s.refuse(str, protocol.CodeUnavailable, storeTrouble)
		return skew{}, fmt.Errorf("looking up the agent of a hello: %w: %w", errStore, err)
	}
	seen := func(intro *protocol.Introduce) error {
		err := s.cfg.Store.SeenAgent(ctx, store.Agent{ID: certID, Facts: intro.Facts, AgentVersion: h.AgentVersion, Probes: intro.Probes, LastSeen: now})
		if err != nil {
			s.refuse(str, protocol.CodeUnavailable, storeTrouble)
			return fmt.Errorf("recording hello: %w: %w", errStore, err)
		}
		return nil
	}
	challenged := len(h.Challenge) != 0
	if !challenged {
		if err := seen(&protocol.Introduce{BootEpoch: h.BootEpoch, Facts: h.Facts, Probes: h.Probes}); err != nil {
			return skew{}, err
		}
	}
	var clock skew
	if h.AgentTime > 0 {
		// Less the hello's one-way delay, which is small beside the
		// tolerance it serves (protocol.MaxClockAhead).
		clock = skew{d: time.Unix(0, h.AgentTime).Sub(now), known: true}
		if clock.d > protocol.MaxClockAhead || clock.d < -protocol.MaxClockAhead {
			s.log.Warn("agent clock is off", "agent", certID, "ahead_by", clock.d.Round(time.Second))
		}
	}
	welcome := &protocol.Welcome{CollectorTime: time.Now().UnixNano(), HealthInterval: int64(s.cfg.HealthInterval)}
	if challenged {
		binding, err := protocol.HelloBinding(conn.ConnectionState())
		if err != nil {
			return clock, s.refuse(str, protocol.CodeInternal, err.Error())
		}
		welcome.Proof = protocol.ProveHello(s.cfg.RequestKey, certID, h.Challenge, binding)
	}
	if err := protocol.Write(str, welcome); err != nil {
		return clock, fmt.Errorf("sending welcome: %w", err)
	}
	if !challenged {
		return clock, nil
	}
	intro, err := protocol.ReadAs[*protocol.Introduce](str)
	if err != nil {
		return clock, fmt.Errorf("reading the agent's introduce after the welcome: %w", err)
	}
	return clock, seen(intro)
}

// skew is an agent's clock less the collector's, as measured at its hello;
// known is false for agents that do not send their time.
type skew struct {
	d     time.Duration
	known bool
}

// placeCapture bounds a delivered snapshot's capture time by the time it
// was received. A capture time more than protocol.MaxClockAhead ahead of
// the collector's clock cannot be true, and believed it would make the
// snapshot the agent's latest (its findings, its baseline, diffs) until
// that time came. The snapshot is stored all the same, at the agent's time
// less its measured clock skew, or at the time received when that is still
// ahead or the skew is unknown, with the agent's own time kept beside it
// (AgentCapturedAt) and shown. Refusing it instead would lose sound data
// (an agent drops a snapshot the collector refuses as bad), and an agent
// whose clock runs ahead would lose every one until its clock is fixed.
// Past capture times are left alone: a snapshot may wait in a spool.
func placeCapture(rec *store.Snapshot, clock skew) {
	if protocol.CheckCaptureTime(rec.CapturedAt, rec.ReceivedAt) == nil {
		return
	}
	at := rec.ReceivedAt
	if clock.known {
		if corrected := rec.CapturedAt.Add(-clock.d); corrected.Before(at) {
			at = corrected
		}
	}
	rec.AgentCapturedAt, rec.CapturedAt = rec.CapturedAt, at
}

// refuse tells the other side why, and returns the reason as an error.
func (s *Server) refuse(w io.Writer, code uint16, msg string) error {
	protocol.Write(w, &protocol.Error{Code: code, Message: msg})
	return errors.New(msg)
}

// handleAgentStream serves one exchange the agent opened: a snapshot it
// pushes (periodic health, or one captured earlier), acked once stored, or
// a certificate renewal.
func (s *Server) handleAgentStream(ctx context.Context, ac *agentConn, str transport.Stream) {
	defer str.Close()
	defer str.CancelRead(0) // see hello
	str.SetDeadline(time.Now().Add(streamTimeout))
	release, ok := s.takeTurn(ctx, ac)
	if !ok {
		// Busy: the agent keeps the snapshot in its spool and holds back,
		// instead of the collector buffering it.
		s.obs.IngestFailed("busy")
		wait := time.Second + time.Duration(mrand.Int64N(int64(2*time.Second)))
		protocol.Write(str, &protocol.Error{Code: protocol.CodeUnavailable, Message: "collector busy; keep the snapshot and retry", RetryAfter: wait.Milliseconds()})
		return
	}
	defer release()
	m, err := protocol.Read(str)
	if err != nil && hungUp(err) {
		// The agent went away mid-message (a restart, a lost network):
		// it still has the snapshot, and sends it again.
		s.log.Debug("agent hung up before its message ended", "agent", ac.id, "err", err)
		return
	}
	if err != nil {
		s.obs.IngestFailed("decode")
		s.log.Warn("bad message from agent", "agent", ac.id, "err", err)
		s.refuse(str, protocol.CodeBadRequest, truncate(err.Error()))
		return
	}
	switch m := m.(type) {
	case *protocol.Snapshot:
		if _, err := s.ingest(ctx, ac, m, str); errors.Is(err, errAckLost) {
			s.log.Debug("snapshot stored, ack not delivered; the agent will send it again", "agent", ac.id, "seq", m.Seq, "err", err)
		} else if err != nil {
			s.log.Warn("snapshot not stored", "agent", ac.id, "seq", m.Seq, "err", err)
		}
	case *protocol.Renew:
		// The connection's certificate proves who asks; the new one is for
		// the same agent, with the fresh key in the request.
		cert, err := s.cfg.CA.SignAgent(m.CSR, ac.id, s.cfg.CertValidity)
		if err != nil {
			s.log.Warn("renewal refused", "agent", ac.id, "err", err)
			s.refuse(str, protocol.CodeBadRequest, truncate(err.Error()))
			return
		}
		if err := s.cfg.Store.SetAgentCert(ctx, ac.id, serialOf(cert)); err != nil {
			s.log.Error("recording a renewed certificate", "agent", ac.id, "err", err)
			s.refuse(str, protocol.CodeUnavailable, storeTrouble)
			return
		}
		s.log.Info("agent certificate renewed", "agent", ac.id)
		protocol.Write(str, &protocol.Renewed{Certificate: cert})
	default:
		s.obs.IngestFailed("decode")
		s.refuse(str, protocol.CodeBadRequest, "unexpected "+m.Type().String()+" from an agent: want snapshot or renew")
	}
}

// takeTurn waits, up to the queue wait, for the agent's own turn and then
// for one of the fleet-wide ingest slots. It returns the function that gives
// both back, or false when the collector is too busy.
func (s *Server) takeTurn(ctx context.Context, ac *agentConn) (release func(), ok bool) {
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case ac.turn <- struct{}{}:
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; <-ac.turn }, true
	case <-t.C:
	case <-ctx.Done():
	}
	<-ac.turn
	return nil, false
}

// ingest stores a snapshot from the agent on ac and acks it on w, only
// after the store has committed it.
func (s *Server) ingest(ctx context.Context, ac *agentConn, snap *protocol.Snapshot, w io.Writer) (int64, error) {
	start := time.Now()
	id := ac.id
	if snap.AgentID != id {
		s.obs.IngestFailed("identity")
		return 0, s.refuse(w, protocol.CodeUnauthorized, fmt.Sprintf("snapshot names agent %q on the connection of %q", snap.AgentID, id))
	}
	if snap.BootEpoch == protocol.ImportedEpoch {
		// That identity is the imports': an agent using it would have its
		// snapshots shown as imported, and collide with them.
		s.obs.IngestFailed("identity")
		return 0, s.refuse(w, protocol.CodeBadRequest, fmt.Sprintf("boot epoch %d is reserved for imported documents", protocol.ImportedEpoch))
	}
	rec := store.FromWire(snap, start)
	placeCapture(rec, ac.clock)
	if !rec.AgentCapturedAt.IsZero() {
		s.log.Warn("snapshot dated ahead of the collector's clock; stored at the collector's estimate", "agent", id, "seq", snap.Seq,
			"agent_captured_at", rec.AgentCapturedAt, "captured_at", rec.CapturedAt)
	}
	stored, dup, err := s.cfg.Store.PutSnapshot(ctx, rec)
	if err != nil {
		s.obs.IngestFailed("store")
		s.refuse(w, protocol.CodeUnavailable, "collector could not store the snapshot; keep it and retry")
		return 0, err // "storing snapshot N of agent X: ..."
	}
	s.obs.Ingested(snap.Kind.String(), dup, time.Since(start))
	if err := protocol.Write(w, &protocol.Ack{AgentID: id, BootEpoch: snap.BootEpoch, Seq: snap.Seq, Duplicate: dup}); err != nil {
		return stored, fmt.Errorf("%w: %v", errAckLost, err)
	}
	return stored, nil
}

// errAckLost is returned by ingest for a snapshot stored whose ack could
// not be sent.
var errAckLost = errors.New("ack not sent")

// hungUp reports whether a read failed because the agent or the network
// went away (a reset stream, a closed or timed-out connection), not
// because of what the agent sent: a stream that ends cleanly mid-message
// is malformed.
func hungUp(err error) bool {
	var (
		streamErr *transport.StreamError
		appErr    *transport.ApplicationError
	)
	return errors.As(err, &streamErr) || errors.As(err, &appErr) || errors.Is(err, transport.ErrIdleTimeout) || errors.Is(err, transport.ErrReset)
}

// RequestSnapshot asks a connected agent for a snapshot of the named probes
// (all when empty), stores it and returns its stored ID. It gives up at the
// context's deadline, and sooner, with a NotAnsweringError, when the agent
// has gone silent (see liveness.go). The context says which ticket the
// snapshot is for (WithTicket), which processes L2 asks about
// (WithProcesses) and whether to check connectivity afresh
// (WithFreshHandshake).
func (s *Server) RequestSnapshot(ctx context.Context, agentID string, probes []string) (id int64, err error) {
	ac := s.lookup(agentID)
	if ac == nil {
		return 0, ErrOffline
	}
	if err := s.cfg.live.silent(ac); err != nil {
		return 0, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(streamTimeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	start := time.Now()
	defer func() { s.obs.RoundTrip(time.Since(start), err) }()
	ctx, give := context.WithCancelCause(ctx)
	defer give(nil)
	w := s.cfg.live.watchAnswer(ctx, ac, give)
	defer w.Stop()
	// failed says why an exchange with the agent failed: not answering
	// when that is what it was, else what.
	failed := func(what error) error {
		if na := notAnswering(ctx, ac, what); na != nil {
			return na
		}
		return what
	}
	str, err := ac.conn.OpenStream(ctx)
	if err != nil {
		return 0, failed(fmt.Errorf("opening a stream to the agent: %w", err))
	}
	defer str.Close()
	defer str.CancelRead(0) // see hello
	// Stop waiting on the stream as soon as the caller gives up.
	stop := context.AfterFunc(ctx, func() { str.CancelRead(0) })
	defer stop()
	str.SetDeadline(deadline)
	if latest := time.Now().Add(protocol.MaxRequestLife); deadline.After(latest) {
		deadline = latest // agents refuse requests that claim to live longer
	}
	req := &protocol.SnapshotRequest{RequestID: newID(8), Probes: probes, Deadline: deadline.UnixMilli(), Ticket: ticketFrom(ctx),
		Processes: ProcessesFrom(ctx), FreshHandshake: FreshHandshakeFrom(ctx), Fresh: FreshFrom(ctx), UserAgreed: UserAgreedFrom(ctx)}
	if err := req.Validate(); err != nil {
		return 0, fmt.Errorf("asking for a snapshot: %w", err)
	}
	if err := req.Sign(s.cfg.RequestKey, agentID, randomBytes(16)); err != nil {
		return 0, fmt.Errorf("signing the request: %w", err)
	}
	w.sending()
	if err := protocol.Write(str, req); err != nil {
		return 0, failed(fmt.Errorf("sending the request: %w", err))
	}
	snap, err := protocol.ReadAs[*protocol.Snapshot](str)
	if err != nil {
		if na := notAnswering(ctx, ac, err); na != nil {
			return 0, na
		}
		// The stream's deadline is the context's, and may fire first.
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, fmt.Errorf("agent did not answer in time: %w", context.DeadlineExceeded)
		}
		var perr *protocol.Error
		if errors.As(err, &perr) {
			return 0, fmt.Errorf("agent refused: %w", err)
		}
		return 0, fmt.Errorf("reading the agent's answer: %w", err)
	}
	w.Stop() // answered: storing it is the collector's business
	if snap.RequestID != req.RequestID {
		s.refuse(str, protocol.CodeBadRequest, "answer is for another request")
		return 0, fmt.Errorf("agent answered request %q, asked %q", snap.RequestID, req.RequestID)
	}
	return s.ingest(ctx, ac, snap, str)
}

// serialOf returns a certificate's serial in hex, or "" if it does not parse.
func serialOf(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}

type ticketKey struct{}

// WithTicket returns a context whose snapshot requests say they are for
// the given ticket, so the agent's receipts can show why it was asked.
func WithTicket(ctx context.Context, ref string) context.Context {
	return context.WithValue(ctx, ticketKey{}, ref)
}

func ticketFrom(ctx context.Context) string {
	ref, _ := ctx.Value(ticketKey{}).(string)
	return ref
}

type processesKey struct{}

// WithProcesses returns a context whose snapshot requests ask the agent
// about the named processes (protocol.SnapshotRequest.Processes): its
// processes probe lists those running beside its top lists. Names that
// protocol.ValidProcessName refuses make the request fail before it is
// sent.
func WithProcesses(ctx context.Context, names []string) context.Context {
	return context.WithValue(ctx, processesKey{}, slices.Clone(names))
}

// ProcessesFrom returns the process names WithProcesses put in ctx.
func ProcessesFrom(ctx context.Context) []string {
	names, _ := ctx.Value(processesKey{}).([]string)
	return names
}

type freshKey struct{}

// WithFreshHandshake returns a context whose snapshot requests ask the
// agent for a connectivity check (protocol.SnapshotRequest.FreshHandshake):
// its network probe times a fresh connection to the collector beside the
// one it holds, which it otherwise reports alone.
func WithFreshHandshake(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

// FreshHandshakeFrom reports whether WithFreshHandshake marked ctx.
func FreshHandshakeFrom(ctx context.Context) bool {
	fresh, _ := ctx.Value(freshKey{}).(bool)
	return fresh
}

type freshRunKey struct{}

// WithFresh returns a context whose snapshot requests ask the agent to run
// the probes anew (protocol.SnapshotRequest.Fresh), within its on-demand
// budget, rather than answer with a run of the same probes that finished
// seconds before.
func WithFresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshRunKey{}, true)
}

// FreshFrom reports whether WithFresh marked ctx.
func FreshFrom(ctx context.Context) bool {
	fresh, _ := ctx.Value(freshRunKey{}).(bool)
	return fresh
}

func newID(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TokenHash is how tokens are kept: a token is 256 random bits, so a plain
// SHA-256 is enough to make a stolen database useless for enrolling.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// handleEnrollment serves a connection without a client certificate: one
// Enroll exchange, then the connection closes.
func (s *Server) handleEnrollment(ctx context.Context, conn transport.Conn) {
	defer conn.CloseWithError(0, "")
	ctx, cancel := context.WithTimeout(ctx, streamTimeout)
	defer cancel()
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return
	}
	str.SetDeadline(time.Now().Add(streamTimeout))
	log := s.log.With("remote", conn.RemoteAddr().String())
	answer := s.enroll(ctx, str, log)
	if err := protocol.Write(str, answer); err != nil {
		log.Warn("enrollment answer not sent", "err", err)
		return
	}
	// Let the agent read the answer and hang up first: closing now could
	// discard data still in flight.
	str.Close()
	select {
	case <-conn.Context().Done():
	case <-ctx.Done():
	}
}

// enroll checks an enrollment request and returns the answer: Enrolled,
// or an Error saying why not.
func (s *Server) enroll(ctx context.Context, str io.Reader, log *slog.Logger) protocol.Message {
	req, err := protocol.ReadAs[*protocol.Enroll](str)
	if err != nil {
		log.Warn("enrollment refused", "err", err)
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: "expected an enrollment request: " + truncate(err.Error())}
	}
	id := newID(10)
	cert, err := s.cfg.CA.SignAgent(req.CSR, id, s.cfg.CertValidity)
	if err != nil {
		log.Warn("enrollment refused", "err", err)
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: truncate(err.Error())}
	}
	now := time.Now()
	// The token is consumed and the agent recorded with its certificate in
	// one transaction: a refused token leaves no trace but the log.
	err = s.cfg.Store.Enroll(ctx, TokenHash(req.Token), now, store.Agent{ID: id, Facts: req.Facts, EnrolledAt: now, CertSerial: serialOf(cert), Pending: s.cfg.RequireApproval})
	if errors.Is(err, store.ErrTokenInvalid) {
		log.Warn("enrollment refused", "err", err, "hostname", req.Facts.Hostname)
		return &protocol.Error{Code: protocol.CodeUnauthorized, Message: err.Error()}
	}
	if err != nil {
		log.Error("enrollment failed", "err", err)
		return &protocol.Error{Code: protocol.CodeUnavailable, Message: storeTrouble}
	}
	log.Info("agent enrolled", "agent", id, "hostname", req.Facts.Hostname)
	return &protocol.Enrolled{AgentID: id, Certificate: cert, CA: s.cfg.CA.Cert.Raw, RequestKey: s.cfg.RequestKey.Public().(ed25519.PublicKey)}
}

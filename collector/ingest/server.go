// Package ingest is the collector's agent side: it enrolls agents, keeps one
// live connection per agent (QUIC, or TLS over TCP where UDP is blocked; see
// tcp.go), stores the snapshots agents send and asks connected agents for
// fresh ones.
package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	Addr string // UDP address to listen on; default ":7443"
	// TCPAddr is the TCP address of the fallback transport, for agents
	// whose network blocks UDP; "" for none. Set to Addr, it takes the
	// port number QUIC got (see bind).
	TCPAddr string
	Hosts   []string // names and addresses for the server certificate
	CA      *pki.CA
	Store   store.Store
	Log     *slog.Logger
	// ResetKey lets a restarted collector reset the connections of the one
	// before it, so agents reconnect at once instead of after the idle
	// timeout. Keep it across restarts; nil disables stateless resets.
	ResetKey *quic.StatelessResetKey
	// RequestKey signs every request sent to agents; its public half is
	// handed to agents at enrollment.
	RequestKey ed25519.PrivateKey
	// HealthInterval is sent to agents in Welcome; 0 lets them keep theirs.
	HealthInterval time.Duration
	// RequireApproval makes newly enrolled agents wait for an admin's
	// `sonde-collector agent approve` before they may connect.
	RequireApproval bool
	// CertValidity is the lifetime of agent certificates; default 7 days.
	// Agents renew theirs, with a fresh key, at two thirds of it.
	CertValidity time.Duration
	// Observe, when set, is told about ingest events (for metrics).
	Observe Observer
	// MaxIngest bounds the snapshots read and stored at once, fleet-wide,
	// and with it the memory they take; default 64. Each agent has one
	// turn at a time, so a noisy agent waits behind itself, not others.
	MaxIngest int
	// QueueWait is how long a snapshot waits for its turn before the agent
	// is told to hold its snapshots and retry later; default 5 s.
	QueueWait time.Duration
	// DrainTimeout bounds how long Serve, once its context ends, lets the
	// exchanges in flight finish (a snapshot being stored is stored and
	// acked) before it cuts them; default 5 s.
	DrainTimeout time.Duration

	live liveness // zero: productionLiveness; only tests set it (liveness.go)
}

// Observer receives ingest events. Implementations must be fast.
type Observer interface {
	// Connected counts agents connecting (+1) and leaving (-1), by
	// transport (transport.KindQUIC or KindTCP).
	Connected(transport string, delta int)
	Ingested(kind string, duplicate bool, took time.Duration)
	IngestFailed(reason string)
	RoundTrip(took time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) Connected(string, int)                {}
func (nopObserver) Ingested(string, bool, time.Duration) {}
func (nopObserver) IngestFailed(string)                  {}
func (nopObserver) RoundTrip(time.Duration, error)       {}

// Limits of the QUIC side. An agent needs few streams and small windows: it
// sends one snapshot at a time.
const (
	handshakeTimeout = 10 * time.Second
	// idleTimeout is the collector's offer; see liveness.go for what it
	// means to agents old and new.
	idleTimeout    = 12 * time.Second
	streamTimeout  = 30 * time.Second // to read one message once a stream is open
	maxStreams     = 8
	discoveryRate  = 50  // CA answers per second, fleet-wide, sustained
	discoveryBurst = 200 // and at once
	handshakeRate  = 200 // new connections a second before clients must prove their address
	handshakeBurst = 1000
)

// errStore marks a refusal that is the store's failure, not the agent's.
var errStore = errors.New("store error")

// storeTrouble is what an agent is told when the store failed it.
const storeTrouble = "collector store error; try again later"

// ErrOffline is returned for a request to an agent with no live connection.
var ErrOffline = errors.New("agent is offline")

// Server accepts agents over QUIC and TCP.
type Server struct {
	cfg  Config
	udp  *net.UDPConn
	tr   *quic.Transport
	ln   transport.Listener // QUIC
	tcp  *tcp.Listener      // nil without TCPAddr
	srcs *sources           // TCP's admission per source address
	log  *slog.Logger
	obs  Observer

	phase     atomic.Int32 // idle, serving, served
	closeOnce sync.Once

	mu      sync.Mutex
	conns   map[string]*agentConn
	wg      sync.WaitGroup // the connections' goroutines
	workers *workers       // the exchanges'
	revoked atomic.Pointer[map[string]bool]
	slots   chan struct{} // one per snapshot being read and stored

	loadMu sync.Mutex
	load   *bucket // handshakes before a Retry (underLoad)
}

type agentConn struct {
	id    string
	conn  transport.Conn
	since time.Time
	turn  chan struct{} // held while one of the agent's streams is served
	clock skew          // the agent's clock against the collector's, at hello
	heard heard         // when a packet from the agent was last seen (liveness.go)
}

// Listen opens the UDP socket and the QUIC listener.
func Listen(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = ":7443"
	}
	if cfg.MaxIngest <= 0 {
		cfg.MaxIngest = 64
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 5 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	if cfg.live == (liveness{}) {
		cfg.live = productionLiveness
	}
	if cfg.CertValidity == 0 {
		cfg.CertValidity = 7 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RequestKey == nil {
		// Agents enrolled now will not trust another key after a restart:
		// production collectors keep theirs in the data dir.
		_, cfg.RequestKey, _ = ed25519.GenerateKey(nil)
	}
	s := &Server{cfg: cfg, log: cfg.Log, obs: cfg.Observe, conns: map[string]*agentConn{}, slots: make(chan struct{}, cfg.MaxIngest),
		load: newBucket(handshakeRate, handshakeBurst, time.Now()), workers: newWorkers()}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	cert, err := cfg.CA.ServerCertificate(cfg.Hosts, 365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("issuing the collector certificate: %w", err)
	}
	udp, tcpLn, err := bind(cfg.Addr, cfg.TCPAddr)
	if err != nil {
		return nil, err
	}
	// The transport does not own a socket it was given: every way out of
	// the server closes it (see close).
	s.udp = udp
	s.tr = &quic.Transport{Conn: udp, StatelessResetKey: cfg.ResetKey, VerifySourceAddress: s.underLoad}
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// An agent without a certificate may only enroll; see handleConn.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  cfg.CA.Pool(),
		NextProtos: []string{protocol.ALPN},
		// Revoked agents are refused in the handshake itself.
		VerifyConnection: s.verifyConnection,
		// Agents keep no TLS sessions (each connection is a full mTLS
		// handshake, and QUIC's 0-RTT is off): a ticket would be sealed for
		// nothing on every handshake and held, with the agent's
		// certificate in it, in the connection's send buffers.
		SessionTicketsDisabled: true,
	}
	if tcpLn != nil {
		s.listenTCP(tcpLn, tlsConf)
	}
	if err := s.loadRevoked(context.Background()); err != nil {
		s.close()
		return nil, fmt.Errorf("reading revocations: %w", err)
	}
	qln, err := s.tr.Listen(tlsConf, &quic.Config{
		HandshakeIdleTimeout:           handshakeTimeout,
		MaxIdleTimeout:                 cfg.live.idle,
		MaxIncomingStreams:             maxStreams,
		MaxIncomingUniStreams:          -1,
		InitialStreamReceiveWindow:     256 << 10,
		MaxStreamReceiveWindow:         2 << 20,
		InitialConnectionReceiveWindow: 512 << 10,
		MaxConnectionReceiveWindow:     4 << 20,
		Allow0RTT:                      false,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("QUIC listener: %w", err)
	}
	s.ln = tquic.Listen(qln)
	return s, nil
}

// Close releases the socket of a server that is not serving: one that
// Listen returned but that never served (its caller failed before Serve).
// Serve releases it itself when it returns; Close then does nothing, and
// while Serve runs Close refuses: end Serve's context instead, so that the
// exchanges in flight finish.
func (s *Server) Close() error {
	if s.phase.Load() == serving {
		return errors.New("ingest: Close while serving: end Serve's context instead")
	}
	return s.close()
}

// A Server's phases.
const (
	idle int32 = iota
	serving
	served
)

// close closes the listener, the transport (ending whatever connection is
// left, without a word) and the UDP socket, once.
func (s *Server) close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ln != nil {
			s.ln.Close()
		}
		if s.tcp != nil {
			s.tcp.Close()
		}
		if s.tr != nil {
			s.tr.Close()
		}
		if cerr := s.udp.Close(); cerr != nil {
			err = fmt.Errorf("closing the QUIC socket: %w", cerr)
		}
	})
	return err
}

// underLoad tells quic-go to validate a client's source address with a
// Retry before the handshake once connection attempts exceed a steady rate:
// spoofed floods then cost the collector a packet each, not a handshake.
// Normal reconnects (a fleet after a restart) pass without the extra trip.
func (s *Server) underLoad(net.Addr) bool {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return !s.load.take(time.Now())
}

// Addr is the address the server listens on for QUIC.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// listeners are the QUIC listener and the TCP one, if any.
func (s *Server) listeners() []transport.Listener {
	if s.tcp == nil {
		return []transport.Listener{s.ln}
	}
	return []transport.Listener{s.ln, s.tcp}
}

// Serve accepts connections until ctx ends, then shuts down in order: it
// stops accepting connections and streams, lets the exchanges in flight
// finish for up to Config.DrainTimeout (a snapshot being stored is stored
// and acked; one not yet acked stays in its agent's spool), closes every
// connection, telling the agents, and releases the socket. It returns
// once every goroutine it started has ended; the error is nil when ctx
// ended it. A Server serves once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.phase.CompareAndSwap(idle, serving) {
		return errors.New("ingest: a Server serves once")
	}
	// accept ends with ctx, or when accepting fails; work, what the
	// exchanges in flight use, ends only when the drain is over.
	accept, stopAccepting := context.WithCancel(ctx)
	defer stopAccepting()
	work, cutWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cutWork()
	var side sync.WaitGroup
	side.Go(func() { s.serveDiscovery(accept) })
	side.Go(func() { s.watchRevoked(accept) })
	side.Go(func() { s.trackHeard(accept) })
	defer func() {
		side.Wait()
		s.close()
		s.phase.Store(served)
	}()

	// Both listeners feed the same way in; one failing stops both.
	var (
		acceptors sync.WaitGroup
		errMu     sync.Mutex
		err       error
	)
	for _, ln := range s.listeners() {
		acceptors.Go(func() {
			for {
				conn, aerr := ln.Accept(accept)
				if aerr != nil {
					if ctx.Err() == nil && accept.Err() == nil {
						errMu.Lock()
						err = fmt.Errorf("accepting connections on %s: %w", ln.Addr(), aerr)
						errMu.Unlock()
					}
					stopAccepting()
					return
				}
				s.wg.Go(func() { s.handleConn(accept, work, conn) })
			}
		})
	}
	acceptors.Wait()
	for _, ln := range s.listeners() {
		ln.Close()
		// Handshakes done but not yet accepted are turned away as well.
		for {
			conn, aerr := ln.Accept(context.Background())
			if aerr != nil {
				break
			}
			conn.CloseWithError(protocol.CodeUnavailable, shuttingDown)
		}
	}
	start := time.Now()
	s.log.Info("ingest stopped accepting; draining", "connections", len(s.Connected()), "in_flight", s.inFlight())
	drained := make(chan struct{})
	go func() {
		s.wg.Wait() // every connection's exchanges included (handleConn)
		s.workers.stop()
		close(drained)
	}()
	t := time.NewTimer(s.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-drained:
		s.log.Info("ingest drained", "took", time.Since(start).Round(time.Millisecond))
	case <-t.C:
		s.log.Warn("ingest drain timed out; cutting the exchanges left (their snapshots stay in the agents' spools)",
			"after", s.cfg.DrainTimeout, "in_flight", s.inFlight())
		s.cut(cutWork)
		<-drained
		s.log.Info("ingest drained", "took", time.Since(start).Round(time.Millisecond))
	}
	return err
}

// serveDiscovery answers CA discovery datagrams (see protocol.DiscoveryRequest).
func (s *Server) serveDiscovery(ctx context.Context) {
	answer, err := protocol.DiscoveryAnswer(s.cfg.CA.Cert.Raw)
	if err != nil {
		s.log.Error("CA discovery disabled", "err", err)
		return
	}
	buf := make([]byte, 1500)
	// A token bucket: bursts of enrollments (a fleet rollout) are answered
	// at once, a sustained flood is cut to discoveryRate answers a second.
	tokens := newBucket(discoveryRate, discoveryBurst, time.Now())
	for {
		n, addr, err := s.tr.ReadNonQUICPacket(ctx, buf)
		if err != nil {
			return
		}
		if !protocol.IsDiscoveryRequest(buf[:n]) {
			continue
		}
		if !tokens.take(time.Now()) {
			continue // dropped, not answered
		}
		if _, err := s.tr.WriteTo(answer, addr); err != nil {
			s.log.Debug("CA discovery answer", "to", addr, "err", err)
		}
	}
}

// handleConn serves one connection: the hello, then its streams on a
// goroutine of their own (serveStreams). Streams are accepted until accept
// ends; the exchanges on them run with work, which outlives accept while
// the server drains. The connection is closed once they have finished.
func (s *Server) handleConn(accept, work context.Context, conn transport.Conn) {
	state := conn.ConnectionState()
	if len(state.PeerCertificates) == 0 {
		s.handleEnrollment(work, conn)
		return
	}
	id := state.PeerCertificates[0].Subject.CommonName
	clock, err := s.hello(accept, conn, id)
	if err != nil {
		log := connLog(s.log, id, conn)
		var appErr *transport.ApplicationError
		if errors.As(err, &appErr) && appErr.Remote && appErr.Code == 0 {
			// The agent hung up on purpose: a reachability check.
			log.Debug("agent closed before hello", "reason", appErr.Reason)
			return
		}
		if accept.Err() != nil {
			conn.CloseWithError(protocol.CodeUnavailable, shuttingDown)
			return
		}
		if errors.Is(err, errStore) {
			// The collector's trouble, not the agent's: it retries later,
			// and learns nothing of the store's internals.
			log.Error("agent turned away", "err", err)
			conn.CloseWithError(protocol.CodeUnavailable, storeTrouble)
			return
		}
		log.Warn("agent refused", "err", err)
		conn.CloseWithError(protocol.CodeUnauthorized, truncate(err.Error()))
		return
	}
	ac := &agentConn{id: id, conn: conn, since: time.Now(), turn: make(chan struct{}, 1), clock: clock}
	ac.lastHeard() // the baseline: the hello just arrived
	s.register(ac)
	connLog(s.log, id, conn).Info("agent connected")
	// A connection waits for streams for as long as it lives, hours to
	// weeks: that wait gets a goroutine whose stack is only as deep as the
	// wait, not this one's, which the hello's store calls grew.
	s.wg.Go(func() { s.serveStreams(accept, work, ac) })
}

// serveStreams accepts ac's streams until accept ends or the connection
// does, serves each on its own goroutine, and then closes and forgets the
// connection (see handleConn).
func (s *Server) serveStreams(accept, work context.Context, ac *agentConn) {
	var (
		streams  sync.WaitGroup
		lastDone atomic.Int64 // when the latest exchange ended, unix ns
	)
	defer s.disconnected(accept, ac, &streams, &lastDone)
	for {
		str, err := ac.conn.AcceptStream(accept)
		if err != nil {
			return
		}
		streams.Add(1)
		s.workers.run(func() {
			defer streams.Done()
			s.handleAgentStream(work, ac, str)
			lastDone.Store(time.Now().UnixNano())
		})
	}
}

// disconnected ends ac once its streams stop: it waits for the exchanges
// in flight, closes the connection when the server is stopping (once the
// last answer had time to arrive), and forgets it.
func (s *Server) disconnected(accept context.Context, ac *agentConn, streams *sync.WaitGroup, lastDone *atomic.Int64) {
	streams.Wait()
	if accept.Err() != nil {
		lingerAfter(ac.conn, time.Unix(0, lastDone.Load()))
		ac.conn.CloseWithError(protocol.CodeUnavailable, shuttingDown)
	}
	s.unregister(ac)
	connLog(s.log, ac.id, ac.conn).Info("agent disconnected", "after", time.Since(ac.since).Round(time.Second))
}

// connLog is log for one agent's connection. It is made for each message
// rather than kept: a connection logs a few times in its life, and ten
// thousand kept loggers would be memory for nothing.
func connLog(log *slog.Logger, id string, conn transport.Conn) *slog.Logger {
	return log.With("agent", id, "remote", conn.RemoteAddr().String(), "transport", conn.Kind())
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

func (s *Server) register(ac *agentConn) {
	s.mu.Lock()
	old := s.conns[ac.id]
	s.conns[ac.id] = ac
	s.mu.Unlock()
	s.obs.Connected(ac.conn.Kind(), 1)
	if old != nil {
		s.obs.Connected(old.conn.Kind(), -1)
		// One live connection per identity: the newest wins (a laptop that
		// came back from sleep on another network). Closing the old one
		// may wait for it to answer (TCP), so the new one does not.
		s.wg.Go(func() { old.conn.CloseWithError(protocol.CodeUnavailable, "replaced by a newer connection") })
	}
}

func (s *Server) unregister(ac *agentConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[ac.id] == ac {
		delete(s.conns, ac.id)
		s.obs.Connected(ac.conn.Kind(), -1)
	}
}

// Link is a connected agent's connection as the API shows it.
type Link struct {
	Since     time.Time // when it was made
	Transport string    // transport.KindQUIC or KindTCP
}

// Connected returns the connected agents' connections by agent ID.
func (s *Server) Connected() map[string]Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Link, len(s.conns))
	for id, ac := range s.conns {
		out[id] = Link{Since: ac.since, Transport: ac.conn.Kind()}
	}
	return out
}

func (s *Server) lookup(id string) *agentConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

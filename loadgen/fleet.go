package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/protocol"
)

// FleetConfig configures a Fleet. Zero values take the defaults.
type FleetConfig struct {
	Collector string // host:port (UDP)
	// PerSocket is how many agents share one UDP socket (one
	// quic.Transport each); default 250.
	PerSocket int
	// HealthInterval is each agent's period of health snapshots, unless
	// the collector's welcome sets one (as it does for real agents);
	// default 60 s.
	HealthInterval time.Duration
	// DialConcurrency bounds the handshakes under way at once; default
	// 512. Real agents are not bounded: keep it above what the collector
	// handles at once, or the storm measures this bound.
	DialConcurrency int
	// PushConcurrency bounds the health snapshots in flight; a push due
	// while it is reached is skipped and counted. Default 1024.
	PushConcurrency int
	Recorded        *Recorded
	Version         string // the agent version in hellos; default "sonde-loadgen"
}

// Fleet is N simulated agents, each with its connection to the collector
// and a reconnect loop like the agent's.
type Fleet struct {
	cfg    FleetConfig
	raddr  *net.UDPAddr
	host   string
	probes []string
	udps   []*net.UDPConn
	trs    []*quic.Transport
	agents []*agent

	dialSem  chan struct{}
	pushSem  chan struct{}
	interval atomic.Int64 // health interval in force, ns

	up        atomic.Int64 // agents connected (hello answered)
	connects  atomic.Int64 // successful hellos, all told
	healthAck atomic.Int64 // health snapshots acked
	skipped   atomic.Int64 // health pushes skipped (one in flight, or PushConcurrency reached)
	busy      atomic.Int64 // snapshots the collector told to retry later
	answered  atomic.Int64 // on-demand requests answered and acked
	refused   atomic.Int64 // requests refused (bad signature, unknown probe...)
	pushLat   Latencies    // write to ack, health pushes and bursts
	errs      errCounter

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// agent is one simulated agent.
type agent struct {
	f         *Fleet
	id        *Identity
	tr        *quic.Transport
	tls       *tls.Config
	verifier  *protocol.Verifier
	bootEpoch int64
	seq       atomic.Uint64
	send      sync.Mutex // one snapshot of the agent's own in flight
	conn      atomic.Pointer[transport.Conn]
}

// NewFleet opens the sockets for ids' agents; Start connects them.
func NewFleet(cfg FleetConfig, ids []*Identity) (*Fleet, error) {
	if cfg.Recorded == nil {
		return nil, errors.New("fleet: no recorded snapshots")
	}
	if cfg.PerSocket <= 0 {
		cfg.PerSocket = 250
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = client.DefaultHealthInterval
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 512
	}
	if cfg.PushConcurrency <= 0 {
		cfg.PushConcurrency = 1024
	}
	if cfg.Version == "" {
		cfg.Version = "sonde-loadgen"
	}
	addr, err := client.NormalizeAddr(cfg.Collector)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("fleet: collector address: %w", err)
	}
	host, _, _ := net.SplitHostPort(addr)
	f := &Fleet{cfg: cfg, raddr: raddr, host: host, probes: cfg.Recorded.ProbeNames(),
		dialSem: make(chan struct{}, cfg.DialConcurrency), pushSem: make(chan struct{}, cfg.PushConcurrency)}
	f.interval.Store(int64(cfg.HealthInterval))
	network := "udp4"
	if raddr.IP.To4() == nil {
		network = "udp6"
	}
	epoch := time.Now().UnixMilli()
	for i, id := range ids {
		if i%cfg.PerSocket == 0 {
			udp, err := net.ListenUDP(network, nil)
			if err != nil {
				f.closeSockets()
				return nil, fmt.Errorf("fleet: opening UDP socket %d: %w", len(f.udps)+1, err)
			}
			f.udps = append(f.udps, udp)
			f.trs = append(f.trs, &quic.Transport{Conn: udp})
		}
		a := &agent{f: f, id: id, tr: f.trs[len(f.trs)-1], bootEpoch: epoch,
			verifier: &protocol.Verifier{Key: id.RequestKey, AgentID: id.AgentID},
			tls: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: id.Pool(), ServerName: host,
				Certificates: []tls.Certificate{id.Cert}, NextProtos: []string{protocol.ALPN}}}
		f.agents = append(f.agents, a)
	}
	return f, nil
}

// Sockets is how many UDP sockets the fleet uses.
func (f *Fleet) Sockets() int { return len(f.udps) }

// Start runs every agent's connection loop and the health schedule until
// Close.
func (f *Fleet) Start(ctx context.Context) {
	ctx, f.cancel = context.WithCancel(ctx)
	for _, a := range f.agents {
		f.wg.Go(func() { a.run(ctx) })
	}
	f.wg.Go(func() { f.healthSchedule(ctx) })
}

// Close stops the agents, closing their connections, and the sockets.
func (f *Fleet) Close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	f.closeSockets()
}

func (f *Fleet) closeSockets() {
	for _, tr := range f.trs {
		tr.Close()
	}
	for _, u := range f.udps {
		u.Close()
	}
}

// Connected is how many agents have a live connection (hello answered).
func (f *Fleet) Connected() int { return int(f.up.Load()) }

// WaitConnected waits until want agents are connected, or patience has
// passed, and returns how long it took.
func (f *Fleet) WaitConnected(ctx context.Context, want int, patience time.Duration) (time.Duration, error) {
	start := time.Now()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for f.Connected() < want {
		if time.Since(start) > patience {
			return time.Since(start), fmt.Errorf("%d of %d agents connected after %s", f.Connected(), want, patience)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("waiting for agents: %w", ctx.Err())
		}
	}
	return time.Since(start), nil
}

// Drop closes every agent's connection at once, as a collector restart
// does; each agent reconnects as agents do (after 0.5–1.5 s).
func (f *Fleet) Drop() int {
	n := 0
	for _, a := range f.agents {
		if c := a.conn.Load(); c != nil {
			(*c).CloseWithError(0, "sonde-loadgen: dropping every connection")
			n++
		}
	}
	return n
}

// IDs returns the agent IDs of the connected agents.
func (f *Fleet) IDs() []string {
	var out []string
	for _, a := range f.agents {
		if a.conn.Load() != nil {
			out = append(out, a.id.AgentID)
		}
	}
	return out
}

// run connects the agent and keeps it connected as client.Run does: after
// a session that got through, back in 0.5–1.5 s; after failures, a backoff
// doubling up to a minute.
func (a *agent) run(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		conn, err := a.connect(ctx)
		if err == nil {
			a.conn.Store(&conn)
			a.f.up.Add(1)
			a.f.connects.Add(1)
			a.serve(ctx, conn)
			a.f.up.Add(-1)
			a.conn.Store(nil)
			conn.CloseWithError(0, "")
			backoff = time.Second
		} else if ctx.Err() == nil {
			a.f.errs.note("connecting", err)
		}
		lo, hi := backoff/2, min(backoff+backoff/2, time.Minute)
		t := time.NewTimer(lo + rand.N(hi-lo))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if err != nil {
			backoff = min(2*backoff, time.Minute)
		}
	}
}

// connect dials the collector with the agent's certificate and says hello.
func (a *agent) connect(ctx context.Context) (transport.Conn, error) {
	select {
	case a.f.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connecting: %w", ctx.Err())
	}
	defer func() { <-a.f.dialSem }()
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := tquic.DialWith(dctx, a.tr, a.f.raddr, a.tls, client.QUICConfig())
	if err != nil {
		return nil, fmt.Errorf("dialing: %w", err)
	}
	// As a real agent: the facts go out only once the collector proved it
	// holds the request key.
	w, err := client.Greet(ctx, conn, a.id.RequestKey, &protocol.Hello{
		AgentID: a.id.AgentID, AgentVersion: a.f.cfg.Version, Versions: []uint8{protocol.Version},
		AgentTime: time.Now().UnixNano(),
	}, &protocol.Introduce{BootEpoch: a.bootEpoch, Facts: a.id.Facts, Probes: a.f.probes}, 30*time.Second)
	if err != nil {
		conn.CloseWithError(0, "")
		return nil, fmt.Errorf("greeting the collector: %w", err)
	}
	if w.HealthInterval > 0 {
		a.f.interval.Store(w.HealthInterval)
	}
	return conn, nil
}

// serve answers the collector's requests until the connection ends.
func (a *agent) serve(ctx context.Context, conn transport.Conn) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		wg.Go(func() { a.answer(str) })
	}
}

// answer serves one request as the agent does (client.answer): verified,
// then the recorded full snapshot, limited to the probes named.
func (a *agent) answer(str transport.Stream) {
	defer str.Close()
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(30 * time.Second))
	req, err := protocol.ReadAs[*protocol.SnapshotRequest](str)
	if err != nil {
		a.f.errs.note("reading a request", err)
		protocol.Write(str, &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()})
		return
	}
	if err := a.verifier.Verify(req, time.Now()); err != nil {
		a.f.refused.Add(1)
		a.f.errs.note("request refused", err)
		protocol.Write(str, &protocol.Error{Code: protocol.CodeUnauthorized, RequestID: req.RequestID, Message: "request refused: " + err.Error()})
		return
	}
	for _, name := range req.Probes {
		if !slices.Contains(a.f.probes, name) {
			a.f.refused.Add(1)
			protocol.Write(str, &protocol.Error{Code: protocol.CodeNotFound, RequestID: req.RequestID, Message: "unknown probe " + name})
			return
		}
	}
	snap := a.stamp(a.f.cfg.Recorded.snapshot(protocol.KindFull, req.Probes))
	snap.RequestID = req.RequestID
	if err := a.sendOn(str, snap); err != nil {
		if !closedHere(err) {
			a.f.errs.note("answering a request", err)
		}
		return
	}
	a.f.answered.Add(1)
}

// stamp makes snap this agent's next one.
func (a *agent) stamp(snap *protocol.Snapshot) *protocol.Snapshot {
	snap.AgentID, snap.BootEpoch, snap.Seq = a.id.AgentID, a.bootEpoch, a.seq.Add(1)
	snap.CapturedAt = time.Now().UnixMilli()
	return snap
}

// errBusy is the collector's "keep it and retry later".
var errBusy = errors.New("collector busy")

// sendOn writes snap on str and waits for its ack.
func (a *agent) sendOn(str transport.Stream, snap *protocol.Snapshot) error {
	werr := protocol.Write(str, snap)
	ack, err := protocol.ReadAs[*protocol.Ack](str)
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeUnavailable && pe.RetryAfter > 0 {
		a.f.busy.Add(1)
		return errBusy
	}
	if err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("sending snapshot %d: %w", snap.Seq, err)
	}
	if ack.Seq != snap.Seq || ack.BootEpoch != snap.BootEpoch {
		return fmt.Errorf("ack for seq %d, sent %d", ack.Seq, snap.Seq)
	}
	return nil
}

// push sends one snapshot of kind the agent takes on its own and waits for
// its ack; false when the agent is not connected.
func (a *agent) push(ctx context.Context, kind protocol.Kind) (bool, error) {
	c := a.conn.Load()
	if c == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	str, err := (*c).OpenStream(ctx)
	if err != nil {
		return true, fmt.Errorf("opening a stream: %w", err)
	}
	defer str.Close()
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if err := a.sendOn(str, a.stamp(a.f.cfg.Recorded.snapshot(kind, nil))); err != nil {
		return true, err
	}
	a.f.pushLat.Add(time.Since(start))
	return true, nil
}

// healthSchedule spreads the agents' health snapshots evenly over the
// interval: one agent's turn every interval/N.
func (f *Fleet) healthSchedule(ctx context.Context) {
	n := len(f.agents)
	if n == 0 {
		return
	}
	next := rand.IntN(n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		gap := time.Duration(f.interval.Load()) / time.Duration(n)
		t := time.NewTimer(max(gap, time.Microsecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		a := f.agents[next]
		next = (next + 1) % n
		if !a.send.TryLock() {
			f.skipped.Add(1)
			continue
		}
		select {
		case f.pushSem <- struct{}{}:
		default:
			a.send.Unlock()
			f.skipped.Add(1)
			continue
		}
		wg.Go(func() {
			defer func() { <-f.pushSem; a.send.Unlock() }()
			sent, err := a.push(ctx, protocol.KindHealth)
			switch {
			case err == nil && sent:
				f.healthAck.Add(1)
			case errors.Is(err, errBusy):
			case err != nil && ctx.Err() == nil && !closedHere(err):
				f.errs.note("health snapshot", err)
			}
		})
	}
}

// closedHere reports whether err is this side closing the connection (Drop,
// or the fleet stopping): the exchange it cut is not the collector's fault.
func closedHere(err error) bool {
	var appErr *transport.ApplicationError
	return errors.As(err, &appErr) && !appErr.Remote
}

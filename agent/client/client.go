package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sondehq/sonde/agent/budget"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/version"
	"github.com/sondehq/sonde/protocol"
)

// Defaults.
const (
	DefaultHealthInterval = 60 * time.Second
	// MinHealthInterval and MaxHealthInterval bound the health interval
	// a collector sets (Welcome), honest or not: it cannot make the agent
	// sample more often than every 10 s (one that asked for every
	// nanosecond drove an agent to more than a core and its spool to
	// tens of thousands of files), nor stop its history for more than a
	// day. The agent's own interval (--health-interval, set by whoever
	// installed it) is not bound.
	MinHealthInterval = 10 * time.Second
	MaxHealthInterval = 24 * time.Hour
	probeTimeout      = 10 * time.Second
	ackTimeout        = 30 * time.Second
	minBackoff        = time.Second
	maxBackoff        = time.Minute
)

// Client is a running agent's link to its collector.
type Client struct {
	ID     *state.Identity
	Probes *probe.Set
	Facts  protocol.Facts
	Log    *slog.Logger
	// HealthInterval is the period of health snapshots; 0 means
	// DefaultHealthInterval, unless the collector sets one.
	HealthInterval time.Duration
	// MinHealthInterval, when set, replaces the package's
	// MinHealthInterval as the shortest interval a collector may set (for
	// tests, whose collectors ask for a few a second).
	MinHealthInterval time.Duration
	// Receipts, when set, records every snapshot taken and sent, for the
	// person at the keyboard.
	Receipts *receipt.Log
	// StateDir is where a renewed certificate and key are kept; empty
	// keeps them in memory only.
	StateDir string
	// StatusDir, when set, is the public folder where the client keeps
	// its connection state for `sonde-agent status` (see package status),
	// rewritten when the state changes.
	StatusDir string
	// Reachability lists the host:port targets IT set in the agent's
	// configuration, for the reachability probe.
	Reachability []string
	// Spool, when set, keeps snapshots that could not be delivered until
	// the collector acknowledges them, and lets health snapshots go on
	// while disconnected; nil sends only while connected.
	Spool *spool.Spool
	// Proxies chooses the proxy of the TCP transport; nil reads the
	// environment only.
	Proxies *Proxies
	// QUICRetry is how often an agent connected over TCP tries QUIC again
	// (see race.go); 0 means every 5 minutes.
	QUICRetry time.Duration
	// Budget bounds the CPU on-demand snapshots take (see shared.go); nil
	// means budget's defaults.
	Budget *budget.Budget
	// MemoryCeiling bounds the memory the agent's process holds, in bytes
	// (see memwatch.go); 0 sets none (a library user, or a test that runs
	// many clients and a collector in one process).
	MemoryCeiling uint64
	// BatteryFloor is the battery charge, in percent, below which heavy
	// probes wait while the machine runs on its battery, unless the
	// request says the user agreed (see battery.go); 0 turns the rule off.
	BatteryFloor int
	// PowerRoot, when set, is the folder read as the host's root (its
	// sys/class/power_supply) by the battery rule; tests point it at
	// fixture trees.
	PowerRoot string
	// RestartedFor, when set, says why the previous run of the agent
	// ended for the service manager to start it again (its memory); the
	// agent probe reports it.
	RestartedFor string

	running   atomic.Bool
	wg        sync.WaitGroup // the goroutines of the current Run
	bootEpoch int64
	interval  atomic.Int64         // current health interval, nanoseconds
	conn      atomic.Pointer[live] // the current connection; nil while away
	kick      chan struct{}        // a health snapshot is due at once
	replayNow chan struct{}        // the spool has something new to send
	faults    map[string]time.Time
	seq       atomic.Uint64
	verifier  *protocol.Verifier
	holdUntil atomic.Int64 // unix ns: a busy collector asked us to wait
	lastAck   atomic.Int64 // unix ns of the last ack from the collector
	stats     struct {
		reconnects, delivered, spooled, lost, throttled atomic.Uint64
		overBudget, memoryDrops, onBattery              atomic.Uint64
	}
	// stop ends the current Run with a cause (see memwatch.go).
	stop context.CancelCauseFunc
	// answering counts the requests being answered.
	answering atomic.Int32

	mu          sync.Mutex
	failedUnits []string      // of the previous health snapshot; nil before one
	offset      time.Duration // collector clock minus ours
	rtt         time.Duration
	measured    bool

	status status.Status // as last written; Run's goroutine alone uses it

	dialOnce sync.Once
	dialer   *dialer // see dial

	idle     *idleRelease // gives memory back after on-demand snapshots
	onDemand *onDemand    // shares and budgets on-demand runs
}

// dial returns the client's dialer, which remembers the networks that
// block UDP for as long as the client lives.
func (c *Client) dial() *dialer {
	c.dialOnce.Do(func() {
		if c.dialer == nil {
			c.dialer = newDialer(c.Proxies, c.ID.CA)
		}
	})
	return c.dialer
}

// Env returns the probe environment that describes this client's collector.
func (c *Client) Env(health bool) *probe.Env {
	return &probe.Env{Health: health, Collector: &probe.Collector{
		Addr:      c.ID.Collector,
		Live:      c.liveConn,
		Handshake: c.handshake,
		Offset:    c.clockOffset,
	}, Delivery: c.Delivery, Reachability: c.Reachability}
}

// liveConn reports the connection the client holds to its collector, with
// the round trip its transport measures along the way: what the network
// probe reports instead of dialing a new one.
func (c *Client) liveConn() (probe.LiveConn, bool) {
	l := c.conn.Load()
	if l == nil || l.conn.Context().Err() != nil {
		return probe.LiveConn{}, false
	}
	st := l.conn.Stats()
	return probe.LiveConn{Transport: l.conn.Kind(), RTT: st.SmoothedRTT, RTTVar: st.MeanDeviation, Since: l.since}, true
}

// Delivery reports how this client's snapshots fared since it started; the
// agent probe carries it to the collector.
func (c *Client) Delivery() *probe.Delivery {
	d := &probe.Delivery{
		Taken:        c.seq.Load(),
		Connected:    c.conn.Load() != nil,
		Reconnects:   c.stats.reconnects.Load(),
		Delivered:    c.stats.delivered.Load(),
		Spooled:      c.stats.spooled.Load(),
		Lost:         c.stats.lost.Load(),
		Throttled:    c.stats.throttled.Load(),
		OverBudget:   c.stats.overBudget.Load(),
		MemoryDrops:  c.stats.memoryDrops.Load(),
		OnBattery:    c.stats.onBattery.Load(),
		RestartedFor: c.RestartedFor,
	}
	if c.Spool != nil {
		d.SpoolRecords, d.SpoolBytes, d.Dropped, d.Corrupt = c.Spool.Stats()
		d.SpoolCap = c.Spool.Cap()
	}
	return d
}

func (c *Client) clockOffset() (offset, rtt time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.rtt, c.measured
}

// handshake times a fresh handshake with the collector, over the transport
// the agent would connect with. The network probe asks for one only when
// the client holds no connection, or the request asked (see liveConn).
func (c *Client) handshake(ctx context.Context) (time.Duration, error) {
	cert := c.certificate()
	tc, err := tlsConfig(c.ID.Collector, c.ID.CA, &cert)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	conn, err := c.dial().dial(ctx, c.ID.Collector, tc)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	conn.CloseWithError(0, "reachability check")
	return took, nil
}

// live holds the current connection, for an atomic pointer, and when its
// hello was answered.
type live struct {
	conn  transport.Conn
	since time.Time
}

// ErrRunning is returned by Run on a Client that is running already.
var ErrRunning = errors.New("client: Run called while the client is running")

// Run keeps a connection to the collector until ctx ends, reconnecting with
// jittered exponential backoff (see retryWait). It returns once every
// goroutine it started has ended: nil when ctx was canceled, ctx's error
// when its deadline passed, or what kept the client from running at all.
// A Client runs once at a time (a second, concurrent Run returns
// ErrRunning) and may run again after Run returned, with a new boot epoch;
// its sequence numbers and counters go on.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	if c.ID == nil || len(c.ID.Cert.Certificate) == 0 || c.ID.CA == nil {
		return errors.New("client: no agent identity: enroll first")
	}
	if c.Probes == nil {
		return errors.New("client: no probes")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	ctx, c.stop = context.WithCancelCause(ctx)
	defer c.stop(nil)
	// A run is a boot: its epoch is new, after any earlier run's, even one
	// in the same millisecond.
	c.bootEpoch = max(time.Now().UnixMilli(), c.bootEpoch+1)
	c.verifier = c.newVerifier(time.Now())
	c.kick = make(chan struct{}, 1)
	c.replayNow = make(chan struct{}, 1)
	c.mu.Lock()
	c.faults = map[string]time.Time{}
	c.mu.Unlock()
	c.holdUntil.Store(0)
	c.interval.Store(int64(c.HealthInterval))
	c.status = status.Status{PID: os.Getpid(), Version: version.Version, Started: time.Now(), Collector: c.ID.Collector}
	c.report(nil, nil)
	c.idle = newIdleRelease()
	if c.Budget == nil {
		c.Budget, _ = budget.New(budget.DefaultShare, budget.DefaultBurst) // the defaults are within bounds
	}
	c.onDemand = newOnDemand(c.Budget)
	c.onDemand.memory = c.overCeiling
	defer c.idle.stop()
	defer c.stopped()
	defer c.wg.Wait()
	if c.Spool != nil {
		// Health snapshots go on whether or not the collector is there.
		c.wg.Go(func() { c.healthLoop(ctx) })
	}
	backoff := minBackoff
	for ctx.Err() == nil {
		connected, err := c.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errMovingToQUIC) {
			c.stats.reconnects.Add(1)
			backoff = minBackoff
			continue // at once: nothing failed
		}
		c.report(nil, err)
		if connected {
			// The collector was there: it restarted, or the network moved.
			// Come back soon, whatever happened before.
			backoff = minBackoff
			c.stats.reconnects.Add(1)
		}
		wait := retryWait(backoff, rand.Int64N)
		c.Log.Warn("collector connection lost; retrying", "err", err, "in", wait.Round(time.Millisecond))
		c.wg.Go(func() { c.fault(ctx, TriggerUnreachable, err) })
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, maxBackoff)
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrMemoryCeiling) {
		return fmt.Errorf("stopping: %w", cause)
	}
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// retryWait is the wait before reconnecting at backoff b (1 s, doubled
// after each failed attempt up to maxBackoff): drawn by rnd (rand.Int64N)
// from [b/2, min(3b/2, maxBackoff)). The jitter spreads a fleet's
// reconnects after a collector restart, and no wait exceeds maxBackoff.
func retryWait(b time.Duration, rnd func(int64) int64) time.Duration {
	lo, hi := b/2, min(b+b/2, maxBackoff)
	return lo + time.Duration(rnd(int64(hi-lo)))
}

// session runs one connection: hello, then requests and health snapshots
// until the connection ends. It reports whether the hello went through.
// It returns once the goroutines it started have ended.
func (c *Client) session(ctx context.Context) (connected bool, err error) {
	if err := c.checkExpiry(); err != nil {
		return false, err
	}
	cert := c.certificate()
	tc, err := tlsConfig(c.ID.Collector, c.ID.CA, &cert)
	if err != nil {
		return false, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := c.dial().dial(dialCtx, c.ID.Collector, tc)
	cancel()
	if err != nil {
		return false, err
	}
	var moving atomic.Bool // set by watchQUIC before it ends conn
	// On the way out, in this order: the session's context ends, the
	// connection closes (ending the reads and writes that do not watch a
	// context) and the session's goroutines are waited for.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.CloseWithError(0, "agent stopping")
	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	interval, err := c.hello(ctx, conn)
	if errors.Is(err, protocol.ErrNoProof) {
		// Whoever answered holds the collector's TLS certificate but not
		// its request key: it hears nothing more (no facts, no snapshots).
		c.Log.Error("refusing the collector: nothing was sent", "collector", c.ID.Collector, "err", err)
		conn.CloseWithError(protocol.CodeUnauthorized, "the collector did not prove it holds the request key")
	}
	if err != nil {
		return false, err
	}
	c.Log.Info("connected to collector", "collector", c.ID.Collector, "agent", c.ID.AgentID, "transport", conn.Kind())
	c.report(conn, nil)

	c.interval.Store(int64(interval))
	cur := &live{conn: conn, since: time.Now()}
	c.conn.Store(cur)
	defer c.conn.CompareAndSwap(cur, nil)
	if c.Spool == nil {
		wg.Go(func() { c.healthLoop(ctx) })
	} else {
		// The health loop runs all along; what it took while away is in
		// the spool, and goes first.
		wg.Go(func() { c.replayLoop(ctx, conn) })
		wg.Go(func() { c.watchRoaming(ctx, conn) })
	}
	wg.Go(func() { c.renewLoop(ctx, conn) })
	wg.Go(func() { c.watchQUIC(ctx, conn, tc, &moving) })
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			if moving.Load() {
				return true, errMovingToQUIC
			}
			var appErr *transport.ApplicationError
			if errors.As(err, &appErr) && appErr.Remote {
				return true, fmt.Errorf("collector closed the connection: %s", appErr.Reason)
			}
			return true, fmt.Errorf("connection to %s lost: %w", c.ID.Collector, err)
		}
		wg.Go(func() { c.answer(ctx, str) })
	}
}

// report writes the connection state to the status file, if it changed:
// connected (conn, nil when not) or not, over what, and why not. Failing
// to write it is logged, not fatal.
func (c *Client) report(conn transport.Conn, cause error) {
	if c.StatusDir == "" {
		return
	}
	connected := conn != nil
	s := c.status
	s.Connected, s.Transport, s.Error = connected, "", ""
	if connected {
		s.Transport = strings.ToUpper(conn.Kind())
	}
	if cause != nil {
		s.Error = cause.Error()
	}
	if connected != c.status.Connected || s.Since.IsZero() {
		s.Since = time.Now()
	}
	if s == c.status && !s.Updated.IsZero() {
		return
	}
	s.Updated = time.Now()
	if err := status.Write(c.StatusDir, &s); err != nil {
		c.Log.Warn("status file not written", "err", err)
		return // the next report tries again
	}
	c.status = s
}

// stopped marks the status file as left by an agent that stopped.
func (c *Client) stopped() {
	if c.StatusDir == "" {
		return
	}
	c.status.Connected, c.status.Transport, c.status.Stopped = false, "", true
	c.status.Since, c.status.Updated = time.Now(), time.Now()
	if err := status.Write(c.StatusDir, &c.status); err != nil {
		c.Log.Warn("status file not written", "err", err)
	}
}

// hello greets the collector (see Greet) and returns the health interval
// its Welcome sets, bounded.
func (c *Client) hello(ctx context.Context, conn transport.Conn) (time.Duration, error) {
	sent := time.Now()
	w, err := Greet(ctx, conn, c.ID.RequestKey, &protocol.Hello{
		AgentID:      c.ID.AgentID,
		AgentVersion: version.Version,
		Versions:     []uint8{protocol.Version},
		AgentTime:    sent.UnixNano(),
	}, &protocol.Introduce{BootEpoch: c.bootEpoch, Facts: c.Facts, Probes: c.Probes.Names()}, 30*time.Second)
	if err != nil {
		return 0, err
	}
	got := time.Now()
	rtt := got.Sub(sent)
	// The collector read its clock about halfway through the round trip.
	mid := sent.Add(rtt / 2)
	c.mu.Lock()
	c.offset, c.rtt, c.measured = time.Unix(0, w.CollectorTime).Sub(mid), rtt, true
	c.mu.Unlock()
	interval := c.HealthInterval
	if w.HealthInterval > 0 {
		interval = c.boundInterval(time.Duration(w.HealthInterval))
	}
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	return interval, nil
}

// boundInterval brings a health interval the collector set within
// [MinHealthInterval, MaxHealthInterval], saying so when it had to.
func (c *Client) boundInterval(d time.Duration) time.Duration {
	lo := MinHealthInterval
	if c.MinHealthInterval > 0 {
		lo = c.MinHealthInterval
	}
	bounded := min(max(d, lo), MaxHealthInterval)
	if bounded != d {
		c.Log.Warn("the collector's health interval is out of bounds; using the nearest bound", "asked", d, "using", bounded)
	}
	return bounded
}

// answer serves one request from the collector.
func (c *Client) answer(ctx context.Context, str transport.Stream) {
	c.answering.Add(1)
	defer c.answering.Add(-1)
	defer str.Close()
	// Stop reading when done: a stream whose end is never read never
	// completes, and keeps one of the collector's stream credits.
	defer str.CancelRead(0)
	defer unblockOnDone(ctx, str)()
	str.SetDeadline(time.Now().Add(ackTimeout))
	req, err := protocol.ReadAs[*protocol.SnapshotRequest](str)
	if err != nil {
		c.Log.Warn("bad request from collector", "err", err)
		protocol.Write(str, &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()})
		return
	}
	timeout, refusal := c.admit(req, time.Now())
	if refusal != nil {
		c.Log.Warn("request refused", "request", req.RequestID, "err", refusal.Message)
		protocol.Write(str, refusal)
		return
	}
	if held := c.holdForBattery(ctx, req); held != nil {
		c.stats.onBattery.Add(1)
		c.Log.Warn("request refused: heavy probes wait on a low battery", "request", req.RequestID, "battery", held.Percent, "floor", held.Floor)
		protocol.Write(str, batteryRefusal(req, held))
		return
	}
	str.SetDeadline(time.UnixMilli(req.Deadline).Add(ackTimeout))
	env := c.Env(false)
	env.Processes = req.Processes // names to look for, never to run
	env.Collector.Fresh = req.FreshHandshake
	env.Background = true // the probes yield to the person at the machine
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	probes, captured, err := c.onDemand.take(rctx, runKey(c.Probes, env, req.Probes), req.Probes, !req.Fresh, func() []protocol.ProbeResult {
		return c.Probes.Run(ctx, env, req.Probes, timeout)
	})
	var over *OverBudget
	if errors.As(err, &over) {
		c.stats.overBudget.Add(1)
		c.Log.Warn("request refused: the on-demand budget is spent", "request", req.RequestID, "retry_in", over.Wait)
		protocol.Write(str, &protocol.Error{Code: protocol.CodeTooMany, RequestID: req.RequestID, RetryAfter: min(over.Wait, protocol.MaxRetryAfter).Milliseconds(), Message: over.Error()})
		return
	}
	if md := (*MemoryDropped)(nil); errors.As(err, &md) {
		c.stats.memoryDrops.Add(1)
		c.Log.Error("request dropped: past the memory ceiling", "request", req.RequestID, "err", err)
	}
	if err != nil {
		c.Log.Warn("request not answered", "request", req.RequestID, "err", err)
		protocol.Write(str, &protocol.Error{Code: protocol.CodeUnavailable, RequestID: req.RequestID, Message: "request not answered: " + err.Error()})
		return
	}
	snap := c.newSnapshot(protocol.KindFull, req.RequestID, captured, probes)
	c.Log.Info("snapshot requested", "request", req.RequestID, "probes", len(snap.Probes), "processes", len(req.Processes))
	err = c.send(str, snap)
	c.receipt("requested", req.RequestID, req.Ticket, snap, err)
	if err != nil {
		c.keep(snap, err)
	}
	c.idle.touch()
}

// receipt records a snapshot in the end user's receipts.
func (c *Client) receipt(kind, requestID, ticket string, snap *protocol.Snapshot, sendErr error) {
	if c.Receipts == nil {
		return
	}
	r := receipt.Receipt{At: time.UnixMilli(snap.CapturedAt), Kind: kind, RequestID: requestID, Ticket: ticket,
		Collector: c.ID.Collector}
	for _, p := range snap.Probes {
		r.Probes = append(r.Probes, p.Name)
	}
	r.Record(sendErr)
	if err := c.Receipts.Add(r); err != nil {
		c.Log.Warn("receipt not written", "err", err)
	}
}

// admit decides whether to serve req at now: it must be valid (the
// decoder checked, and admit checks again whoever built req: a probe named
// twice would run twice), carry the collector's signature for this agent,
// be fresh and unseen, and name only compiled-in probes. It returns the
// time the probes may take, or the refusal to send.
func (c *Client) admit(req *protocol.SnapshotRequest, now time.Time) (time.Duration, *protocol.Error) {
	if err := req.Validate(); err != nil {
		refusal := &protocol.Error{Code: protocol.CodeBadRequest, Message: "request refused: " + err.Error()}
		if protocol.ValidID(req.RequestID) {
			refusal.RequestID = req.RequestID
		}
		return 0, refusal
	}
	if err := c.verifier.Verify(req, now); err != nil {
		return 0, &protocol.Error{Code: protocol.CodeUnauthorized, RequestID: req.RequestID, Message: "request refused: " + err.Error()}
	}
	for _, name := range req.Probes {
		if !contains(c.Probes.Names(), name) {
			return 0, &protocol.Error{Code: protocol.CodeNotFound, RequestID: req.RequestID, Message: "unknown probe " + name}
		}
	}
	// Leave time for the answer to travel and be stored.
	return min(probeTimeout, time.UnixMilli(req.Deadline).Sub(now)*3/4), nil
}

// newVerifier returns the request check of a run starting at now. With a
// state dir, it refuses the requests a run before it accepted, however
// long ago it stopped: each accepted request's expiry is written there
// first (protocol.Verifier.Keep), and requests expiring no later than the
// last one written are refused (Floor). That holds across a crash, costs
// one 16-byte write a request, and refuses a new request only when it
// expires before one accepted earlier (a shorter deadline asked for right
// after a restart). A mark that cannot be read rules out nothing: then
// every request that may have lived before now is refused, those expiring
// within MaxRequestLife of it (by the agent's clock, which checked their
// expiry against the same bound).
func (c *Client) newVerifier(now time.Time) *protocol.Verifier {
	v := &protocol.Verifier{Key: c.ID.RequestKey, AgentID: c.ID.AgentID}
	if c.StateDir == "" {
		return v // nothing on disk: a run remembers only its own requests
	}
	floor, err := state.LoadReplayMark(c.StateDir)
	if err != nil {
		floor = now.Add(protocol.MaxRequestLife)
		c.Log.Warn("refusing requests that may have been accepted before this start", "until", floor, "err", err)
	}
	v.Floor = floor
	v.Keep = func(exp time.Time) error { return state.SaveReplayMark(c.StateDir, exp) }
	return v
}

// take runs probes into a new snapshot.
func (c *Client) take(ctx context.Context, kind protocol.Kind, requestID string, probes []string, timeout time.Duration) *protocol.Snapshot {
	return c.takeIn(ctx, c.Env(kind == protocol.KindHealth), kind, requestID, probes, timeout)
}

// takeIn runs probes in env into a new snapshot: a health snapshot's one
// after another (see probe.Set.RunInOrder), others side by side.
func (c *Client) takeIn(ctx context.Context, env *probe.Env, kind protocol.Kind, requestID string, probes []string, timeout time.Duration) *protocol.Snapshot {
	run := c.Probes.Run
	if env.Health {
		run = c.Probes.RunInOrder
	}
	now := time.Now()
	return c.newSnapshot(kind, requestID, now, run(ctx, env, probes, timeout))
}

// newSnapshot numbers probe results captured at captured as the next
// snapshot.
func (c *Client) newSnapshot(kind protocol.Kind, requestID string, captured time.Time, probes []protocol.ProbeResult) *protocol.Snapshot {
	return &protocol.Snapshot{
		RequestID:  requestID,
		Kind:       kind,
		AgentID:    c.ID.AgentID,
		BootEpoch:  c.bootEpoch,
		Seq:        c.seq.Add(1),
		CapturedAt: captured.UnixMilli(),
		Probes:     probes,
	}
}

// send writes snap and waits for the collector's ack. A busy collector's
// answer holds back further sends for the time it asks.
func (c *Client) send(str transport.Stream, snap *protocol.Snapshot) error {
	return c.sendFrame(str, snap, nil)
}

// sendFrame is send with snap already encoded as one protocol frame (a
// spooled record's), written as is; nil encodes it.
func (c *Client) sendFrame(str transport.Stream, snap *protocol.Snapshot, frame []byte) error {
	var werr error
	if frame == nil {
		werr = protocol.Write(str, snap)
	} else if _, err := str.Write(frame); err != nil {
		werr = fmt.Errorf("writing a %d-byte frame: %w", len(frame), err)
	}
	// Read the answer even if the write failed: a busy collector answers
	// at once and stops reading.
	ack, err := protocol.ReadAs[*protocol.Ack](str)
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeUnavailable && pe.RetryAfter > 0 {
		c.stats.throttled.Add(1)
		c.holdUntil.Store(time.Now().Add(time.Duration(pe.RetryAfter) * time.Millisecond).UnixNano())
	}
	if err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return receipt.Sending(err, werr == nil) // the receipt says what left
	}
	if ack.Seq != snap.Seq || ack.BootEpoch != snap.BootEpoch {
		return receipt.Sending(fmt.Errorf("ack for seq %d, sent %d", ack.Seq, snap.Seq), true)
	}
	c.stats.delivered.Add(1)
	c.lastAck.Store(time.Now().UnixNano())
	return nil
}

// held returns how much longer a busy collector asked us to wait.
func (c *Client) held() time.Duration {
	return time.Until(time.Unix(0, c.holdUntil.Load()))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

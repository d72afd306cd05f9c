package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// Liveness: how soon the collector knows an agent is gone.
//
// An agent that stops without a word (kill -9, a power cut, a pulled
// cable) leaves its connection open on the collector until the idle
// timeout, and a request sent on it meanwhile would wait out its whole
// deadline. What bounds that, in quic-go's terms (third_party/quic-go,
// connection.go):
//
//   - The idle timeout. Each side offers one; both use the smaller. The
//     collector offers idleTimeout (12 s), so every agent, older ones that
//     ask for 30 s included, is dropped, and shown offline, at most 12 s
//     after its last packet (or three probe timeouts, on a slow path).
//   - Keep-alives. A side with a KeepAlivePeriod sends a PING once it has
//     heard nothing for min(KeepAlivePeriod, idle timeout / 2), and the
//     PING is acknowledged. Agents ask for 5 s; older ones (10 s) get 6 s
//     from the 12 s idle timeout. A live agent is never silent much longer.
//     The collector sends no PINGs of its own: the agents' PINGs and its
//     ACKs keep the connection, and the NAT binding, alive both ways.
//   - Last heard. The collector notes when each connection's count of
//     authenticated packets received last moved (trackHeard, every
//     heardTick). A request to an agent silent for more than silentAfter
//     fails then (at once, or while it waits); a request the agent leaves
//     unacknowledged, which a live agent's QUIC stack does within a round
//     trip, fails after answerWait instead of at its deadline. Both fail
//     with a NotAnsweringError. (A packet the agent sent just before it
//     died, arriving after the request left, counts as an answer: that
//     request then fails at silentAfter.)
//
// Over the TCP fallback (internal/transport/tcp) the same holds by
// construction: the idle timeout is the smaller offer, agents ping every
// 5 s when they hear nothing, Stats.Received counts reads from the socket
// instead of packets, and every write asks the peer for a ping back, which
// a live agent answers within a round trip as QUIC's ACKs do.
const (
	// silentAfter is two keep-alive periods of current agents and more
	// than one of older ones: a live agent's PING, and its retransmission,
	// would have arrived by then.
	silentAfter = 10 * time.Second
	// heardTick is how often the collector looks at every connection's
	// packet count: the resolution of "last heard".
	heardTick = time.Second
	// minAnswerWait is the least a request waits for the first packet from
	// the agent once sent; see answerWait.
	minAnswerWait = 3 * time.Second
	// answerPoll is how often a request in flight looks for that packet.
	answerPoll = 100 * time.Millisecond
)

// liveness is the times a Server keeps liveness by: the constants above
// and its idle timeout offer (idleTimeout, server.go). A production Server
// keeps productionLiveness; only the package's tests set others, through
// Config.live (export_test.go), to run in seconds, every time divided by
// one factor, what takes a production collector a minute. It is no knob of
// Config's: these times are in proportion to each other and to the
// agents' keep-alive, and an operator who changed one would break that.
type liveness struct {
	idle          time.Duration // the collector's idle timeout offer
	silentAfter   time.Duration
	heardTick     time.Duration
	minAnswerWait time.Duration
	answerPoll    time.Duration
	// ptoDiv divides the probe timeouts answerWait counts: 1 in
	// production. Tests that divide the times above cannot make round
	// trips faster (a loopback's, under the race detector, can take tens
	// of milliseconds), so they divide the collector's reckoning of them.
	ptoDiv time.Duration
}

// productionLiveness is the liveness of every Server outside tests.
var productionLiveness = liveness{
	idle:          idleTimeout,
	silentAfter:   silentAfter,
	heardTick:     heardTick,
	minAnswerWait: minAnswerWait,
	answerPoll:    answerPoll,
	ptoDiv:        1,
}

// ErrNotAnswering is returned for a request to an agent whose connection is
// still open but from which nothing arrives: it most likely died without
// closing it. Errors that say so are *NotAnsweringError.
var ErrNotAnswering = errors.New("agent is not answering")

// NotAnsweringError says which agent is not answering and for how long it
// has been silent. It matches ErrNotAnswering.
type NotAnsweringError struct {
	Agent  string
	Silent time.Duration // since the collector last heard from it, at the time of the error
}

func (e *NotAnsweringError) Error() string {
	return fmt.Sprintf("agent %s is not answering (last heard %s ago)", e.Agent, Ago(e.Silent))
}

// Unwrap makes errors.Is(err, ErrNotAnswering) hold.
func (e *NotAnsweringError) Unwrap() error { return ErrNotAnswering }

// Ago writes a silence in whole seconds, "7 s", the resolution the
// collector hears at (heardTick).
func Ago(d time.Duration) string {
	return fmt.Sprintf("%d s", int64(d.Round(time.Second)/time.Second))
}

// heard is when a connection's packet count last moved.
type heard struct {
	mu      sync.Mutex
	packets uint64
	at      time.Time
}

// update records the connection's packet count seen at now and returns
// when the count last moved. The first update sets the baseline.
func (h *heard) update(packets uint64, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at.IsZero() || packets != h.packets {
		h.packets, h.at = packets, now
	}
	return h.at
}

// lastHeard looks at ac's connection now and returns when a packet from
// the agent was last seen.
func (ac *agentConn) lastHeard() time.Time {
	return ac.heard.update(ac.conn.Stats().Received, time.Now())
}

// trackHeard brings every connection's last-heard time up to date every
// heardTick until ctx ends. It costs one look at a few atomic counters per
// connection and tick (see BENCHMARKS.md, Liveness).
func (s *Server) trackHeard(ctx context.Context) {
	t := time.NewTicker(s.cfg.live.heardTick)
	defer t.Stop()
	var conns []*agentConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		conns = conns[:0]
		for _, ac := range s.conns {
			conns = append(conns, ac)
		}
		s.mu.Unlock()
		for _, ac := range conns {
			ac.lastHeard()
		}
		clear(conns) // let closed connections go
	}
}

// silent returns a NotAnsweringError when nothing has been heard from ac
// for more than silentAfter, else nil.
func (lv *liveness) silent(ac *agentConn) error {
	if d := time.Since(ac.lastHeard()); d > lv.silentAfter {
		return &NotAnsweringError{Agent: ac.id, Silent: d}
	}
	return nil
}

// answerWait is how long a request waits for any packet from the agent
// once sent: six probe timeouts as RFC 9002 reckons them (the request is
// sent again at each, with doubling waits, so a live agent on a lossy
// path is heard within two or three), and at least minAnswerWait. (Tests
// divide the probe timeouts: see ptoDiv.)
func (lv *liveness) answerWait(st transport.Stats) time.Duration {
	const maxAckDelay = 25 * time.Millisecond // the agents' default
	pto := st.SmoothedRTT + max(4*st.MeanDeviation, time.Millisecond) + maxAckDelay
	return max(lv.minAnswerWait, 6*pto/lv.ptoDiv)
}

// watch ends a request's context, with a NotAnsweringError, as soon as
// the agent is found silent: for more than silentAfter at any time, or,
// once the request is on its way (sending), for answerWait after it.
type watch struct {
	lv      *liveness
	ac      *agentConn
	cancel  context.CancelCauseFunc
	sent    chan sentAt // one, from sending
	stopped chan struct{}
	ended   chan struct{}
	stop    sync.Once
}

// sentAt is the connection's packet count just before the request went out.
type sentAt struct {
	packets uint64
	at      time.Time
	wait    time.Duration
}

// watchAnswer starts watching ac, by lv's times, for the request whose
// context cancel ends. Call Stop once the exchange is over.
func (lv *liveness) watchAnswer(ctx context.Context, ac *agentConn, cancel context.CancelCauseFunc) *watch {
	w := &watch{lv: lv, ac: ac, cancel: cancel, sent: make(chan sentAt, 1), stopped: make(chan struct{}), ended: make(chan struct{})}
	go w.run(ctx)
	return w
}

// sending tells the watch the request is about to be written. The count
// is taken first, so that the agent's acknowledgement, however quick,
// counts as an answer.
func (w *watch) sending() {
	st := w.ac.conn.Stats()
	w.sent <- sentAt{packets: st.Received, at: time.Now(), wait: w.lv.answerWait(st)}
}

// Stop ends the watch and returns once it has ended. Calls after the
// first do nothing.
func (w *watch) Stop() {
	w.stop.Do(func() { close(w.stopped) })
	<-w.ended
}

func (w *watch) run(ctx context.Context) {
	defer close(w.ended)
	t := time.NewTicker(w.lv.answerPoll)
	defer t.Stop()
	var (
		sent     sentAt
		answered bool
	)
	for {
		select {
		case <-w.stopped:
			return
		case <-ctx.Done():
			return
		case sent = <-w.sent:
			continue
		case <-t.C:
		}
		if err := w.lv.silent(w.ac); err != nil {
			w.cancel(err)
			return
		}
		if sent.at.IsZero() || answered {
			continue
		}
		if w.ac.conn.Stats().Received != sent.packets {
			answered = true // alive: from here silentAfter and the deadline decide
			continue
		}
		if time.Since(sent.at) >= sent.wait {
			w.cancel(&NotAnsweringError{Agent: w.ac.id, Silent: time.Since(w.ac.lastHeard())})
			return
		}
	}
}

// notAnswering turns the failure of an exchange with ac into a
// NotAnsweringError when that is what it was: the watch gave up on it
// (ctx's cause), or the connection timed out idle. Else it returns nil.
func notAnswering(ctx context.Context, ac *agentConn, err error) error {
	var na *NotAnsweringError
	if errors.As(context.Cause(ctx), &na) {
		return na
	}
	if errors.Is(err, transport.ErrIdleTimeout) {
		return &NotAnsweringError{Agent: ac.id, Silent: time.Since(ac.lastHeard())}
	}
	return nil
}

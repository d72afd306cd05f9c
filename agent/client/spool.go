package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// Fault triggers: the local faults that make the agent take a full
// snapshot on its own.
const (
	TriggerUnreachable    = "collector-unreachable"
	TriggerNoDefaultRoute = "no-default-route"
	TriggerNoResolvers    = "no-dns-resolvers"
	TriggerServiceFailed  = "service-failed"
)

// faultEvery is the least time between two fault snapshots of one trigger.
const faultEvery = 10 * time.Minute

// faultProbeTimeout bounds each probe of a fault snapshot.
var faultProbeTimeout = probeTimeout

var (
	errNotConnected = errors.New("not connected to the collector")
	errHeld         = errors.New("collector busy: holding snapshots as it asked")
)

// signal wakes whoever waits on ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// healthInterval is the current period of health snapshots.
func (c *Client) healthInterval() time.Duration {
	if d := time.Duration(c.interval.Load()); d > 0 {
		return d
	}
	return DefaultHealthInterval
}

// healthLoop takes a health snapshot at once and then every interval (or
// when kicked), and submits each.
func (c *Client) healthLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		if ctx.Err() != nil {
			return
		}
		c.pushHealth(ctx)
		// A request being answered holds what it read until it is sent;
		// its own check (onDemand.take) drops it if that is too much.
		if c.answering.Load() == 0 {
			if err := c.overCeiling(); err != nil {
				// Nothing was asked, and it did not go down: a leak. The
				// service manager starts the agent afresh.
				c.Log.Error("the agent's memory stays above its ceiling: stopping, for the service manager to start it again", "err", err)
				c.stop(err)
				return
			}
		}
		t.Reset(c.healthInterval())
	}
}

// pushHealth takes one health snapshot, looks it over for local faults and
// submits it.
func (c *Client) pushHealth(ctx context.Context) {
	snap := c.take(ctx, protocol.KindHealth, "", probe.HealthProbes, probeTimeout)
	c.submit(ctx, snap)
	triggers := healthFaults(snap)
	if c.serviceFailed(snap) {
		triggers = append(triggers, TriggerServiceFailed)
	}
	for _, trigger := range triggers {
		c.wg.Go(func() { c.fault(ctx, trigger, nil) })
	}
}

// submit sends a snapshot the agent took on its own. With a spool, the
// snapshot is on disk before it leaves, and the replay loop sends it in
// order: a collector that vanished without a word (a partition, a sleeping
// laptop) never holds up the next snapshot. Without one, it is sent now or
// not at all.
func (c *Client) submit(ctx context.Context, snap *protocol.Snapshot) {
	if c.Spool != nil {
		c.keep(snap, nil)
		return
	}
	err := c.deliver(ctx, snap)
	c.receipt(receiptKind(snap), "", "", snap, err)
	if err != nil {
		c.Log.Warn("snapshot not delivered", "kind", snap.Kind.String(), "seq", snap.Seq, "err", err)
	}
}

// receiptKind names why a snapshot was taken, for the receipts.
func receiptKind(snap *protocol.Snapshot) string {
	switch {
	case snap.Trigger != "":
		return "fault"
	case snap.RequestID != "":
		return "requested"
	}
	return "periodic"
}

// deliver sends snap on a new stream of the current connection and waits
// for its ack.
func (c *Client) deliver(ctx context.Context, snap *protocol.Snapshot) error {
	cur := c.conn.Load()
	if cur == nil {
		return errNotConnected
	}
	if c.held() > 0 {
		return errHeld
	}
	return c.deliverOn(ctx, cur.conn, snap, nil)
}

// deliverOn sends snap on a new stream of conn and waits for its ack;
// frame, when not nil, is snap already encoded (see sendFrame).
func (c *Client) deliverOn(ctx context.Context, conn transport.Conn, snap *protocol.Snapshot, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	str, err := conn.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("opening a stream: %w", err)
	}
	defer str.Close()
	defer str.CancelRead(0) // see answer
	defer unblockOnDone(ctx, str)()
	str.SetDeadline(time.Now().Add(ackTimeout))
	return c.sendFrame(str, snap, frame)
}

// refused reports whether err is the collector's permanent refusal of a
// snapshot, which sending again cannot change.
func refused(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case protocol.CodeBadRequest, protocol.CodeUnauthorized, protocol.CodeNotFound, protocol.CodeTooLarge:
		return true
	}
	return false
}

// keep puts a snapshot into the spool, unless the collector refused it for
// good (sendErr) or there is no spool.
func (c *Client) keep(snap *protocol.Snapshot, sendErr error) {
	if c.Spool == nil || refused(sendErr) {
		c.Log.Warn("snapshot not delivered", "kind", snap.Kind.String(), "request", snap.RequestID, "seq", snap.Seq, "err", sendErr)
		return
	}
	put := c.Spool.Put
	if snap.Kind == protocol.KindHealth && sendErr == nil && c.conn.Load() != nil {
		put = c.Spool.PutLive // on its way out: see spool.PutLive
	}
	if err := put(snap); err != nil {
		c.stats.lost.Add(1)
		c.Log.Warn("snapshot not delivered and not spooled", "seq", snap.Seq, "err", err, "send_err", sendErr)
		return
	}
	c.stats.spooled.Add(1)
	c.Log.Debug("snapshot spooled", "kind", snap.Kind.String(), "request", snap.RequestID, "seq", snap.Seq, "trigger", snap.Trigger, "err", sendErr)
	if c.conn.Load() != nil {
		signal(c.replayNow)
	}
}

// replayLoop sends the spool's records in order over conn, removing each
// once acknowledged, whenever the spool gains one, and every interval while
// records are left (a delivery failed), never while a busy collector asked
// to wait. An empty spool sets no timer: the agent wakes for nothing.
func (c *Client) replayLoop(ctx context.Context, conn transport.Conn) {
	for {
		if wait := c.held(); wait > 0 {
			if !sleep(ctx, wait) {
				return
			}
		}
		c.replay(ctx, conn)
		if !c.awaitReplay(ctx) {
			return
		}
	}
}

// awaitReplay waits for a new record in the spool, or the interval (or the
// time a busy collector asked for) while records are left: false when ctx
// ended.
func (c *Client) awaitReplay(ctx context.Context) bool {
	var retry <-chan time.Time // nil: a new record only
	if n, _, _, _ := c.Spool.Stats(); n > 0 {
		wait := c.healthInterval()
		if h := c.held(); h > 0 {
			wait = h
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		retry = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-c.replayNow:
	case <-retry:
	}
	return true
}

// sleep waits for d, or until ctx ends: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// replayWindow is how many spooled snapshots are in flight at once, so
// that a long round trip does not slow the replay to one per round trip.
const replayWindow = 4

// replay drains the spool, oldest first, until it is empty or a delivery
// fails. Each snapshot is removed once acknowledged, or refused for good.
func (c *Client) replay(ctx context.Context, conn transport.Conn) {
	var sent atomic.Int64
	defer func() {
		if n, _, _, _ := c.Spool.Stats(); sent.Load() > 1 || n > 0 {
			c.Log.Info("spooled snapshots delivered", "sent", sent.Load(), "left", n)
		}
	}()
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
		slots  = make(chan struct{}, replayWindow)
		at     spool.ID
	)
	defer wg.Wait()
	for ctx.Err() == nil && c.held() <= 0 && !failed.Load() {
		rec, err := c.Spool.RecordAfter(at)
		if errors.Is(err, spool.ErrEmpty) {
			return
		}
		if err != nil {
			c.Log.Warn("reading the spool", "err", err)
			return
		}
		snap, id := rec.Snapshot, rec.ID
		at = id
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			err := c.deliverOn(ctx, conn, snap, rec.Frame)
			if err != nil && !refused(err) {
				c.Log.Debug("spooled snapshot not delivered; will retry", "seq", snap.Seq, "err", err)
				failed.Store(true)
				return
			}
			c.receipt(receiptKind(snap), snap.RequestID, "", snap, err)
			if err != nil {
				c.Log.Warn("collector refused a spooled snapshot; dropping it", "seq", snap.Seq, "err", err)
			} else {
				sent.Add(1)
			}
			if err := c.Spool.Remove(id); err != nil {
				c.Log.Warn("removing a delivered snapshot from the spool", "err", err)
				failed.Store(true)
			}
		})
	}
}

// healthFaults returns the triggers a health snapshot shows: no default
// route (where the probe can tell) or no DNS resolver.
func healthFaults(snap *protocol.Snapshot) []string {
	for _, p := range snap.Probes {
		if p.Name != "network" || p.Error != "" || len(p.Data) == 0 {
			continue
		}
		var h probe.NetworkHealth
		if json.Unmarshal(p.Data, &h) != nil {
			return nil
		}
		var out []string
		if runtime.GOOS == "linux" && !h.DefaultRoute {
			out = append(out, TriggerNoDefaultRoute)
		}
		if h.Resolvers == 0 {
			out = append(out, TriggerNoResolvers)
		}
		return out
	}
	return nil
}

// serviceFailed reports whether a service has failed since the previous
// health snapshot. Services already failed when the agent starts are not
// news: they failed at some time nobody saw.
func (c *Client) serviceFailed(snap *protocol.Snapshot) bool {
	for _, p := range snap.Probes {
		if p.Name != "services" || p.Error != "" || len(p.Data) == 0 {
			continue
		}
		var h probe.ServicesHealth
		if json.Unmarshal(p.Data, &h) != nil || h.FailedUnits == nil {
			return false
		}
		c.mu.Lock()
		prev := c.failedUnits
		c.failedUnits = h.FailedUnits
		c.mu.Unlock()
		if prev == nil {
			return false
		}
		for _, u := range h.FailedUnits {
			if !slices.Contains(prev, u) {
				return true
			}
		}
		return false
	}
	return false
}

// fault takes a full snapshot marked with trigger, at most once per
// faultEvery for each trigger, and submits it. cause, when given, is why
// the collector is unreachable: the snapshot reports it instead of waiting
// out a handshake bound to fail (which would also hold up the network probe
// of the next health snapshots).
func (c *Client) fault(ctx context.Context, trigger string, cause error) {
	if c.Spool == nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	if last, ok := c.faults[trigger]; ok && now.Sub(last) < faultEvery {
		c.mu.Unlock()
		return
	}
	c.faults[trigger] = now
	c.mu.Unlock()
	env := c.Env(false)
	if cause != nil {
		env.Collector.Live = nil // the connection is gone: cause is why
		env.Collector.Handshake = func(context.Context) (time.Duration, error) { return 0, cause }
	}
	snap := c.takeIn(ctx, env, protocol.KindFull, "", nil, faultProbeTimeout)
	if ctx.Err() != nil {
		return
	}
	snap.Trigger = trigger
	c.Log.Warn("fault seen; snapshot taken", "trigger", trigger, "seq", snap.Seq)
	if cause != nil {
		// The person at the machine sees why it stays here for now (an
		// intercepting proxy, a proxy refusing the agent, a firewall);
		// a second receipt says when it is delivered.
		c.receipt(receiptKind(snap), "", "", snap, fmt.Errorf("kept on this machine until the collector can be reached: %w", cause))
	}
	c.submit(ctx, snap)
}

// Package courier delivers Sonde's evidence to the helpdesks tickets are
// linked to, from the store's outbox, and follows their state back.
//
// The outbox is derived from what is stored (store.PlanDeliveries): a
// bundle committed to a linked ticket has its comment and attachment
// steps the next time the courier looks, whatever happened in between.
// Each attempt is counted before it is made; a step with an earlier
// attempt is first looked for on the helpdesk's ticket (by its marker), so
// an answer lost to a timeout or a restart sends nothing twice.
package courier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/store"
)

// Courier sends the outbox's steps, one worker per helpdesk, so that one
// helpdesk's outage never holds back another's.
type Courier struct {
	Store      store.Store
	Connectors map[string]helpdesk.Connector
	Settings   map[string]helpdesk.Settings
	// BundleDir is where bundle files are kept (store.Bundle.Path is
	// relative to it).
	BundleDir string
	// PublicURL is where people reach the collector's UI, for links back
	// from the helpdesk; "" for none.
	PublicURL string
	// Retry is the first retry's delay, doubled at each attempt up to
	// MaxRetry (defaults 10 s and 1 h).
	Retry, MaxRetry time.Duration
	// Tick is how often the outbox is looked at without a Wake (5 s).
	Tick time.Duration
	Log  *slog.Logger

	once    sync.Once
	wake    map[string]chan struct{}
	metrics *metrics
}

func (c *Courier) init() {
	c.once.Do(func() {
		c.wake = map[string]chan struct{}{}
		for name := range c.Connectors {
			c.wake[name] = make(chan struct{}, 1)
		}
		if c.Retry <= 0 {
			c.Retry = 10 * time.Second
		}
		if c.MaxRetry < c.Retry {
			c.MaxRetry = max(time.Hour, c.Retry)
		}
		if c.Tick <= 0 {
			c.Tick = 5 * time.Second
		}
		if c.Log == nil {
			c.Log = slog.New(slog.DiscardHandler)
		}
		c.metrics = newMetrics(c)
	})
}

// Names lists the connectors' names, sorted.
func (c *Courier) Names() []string {
	var ns []string
	for n := range c.Connectors {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Link is the address of key in helpdesk name's own UI; "" when name is
// not configured.
func (c *Courier) Link(name, key string) string {
	if conn, ok := c.Connectors[name]; ok {
		return conn.Link(key)
	}
	return ""
}

// Wake makes every worker look at the outbox now: a bundle or a link was
// just stored.
func (c *Courier) Wake() {
	c.init()
	for _, ch := range c.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Run delivers and follows until ctx is done.
func (c *Courier) Run(ctx context.Context) {
	c.init()
	var wg sync.WaitGroup
	for _, name := range c.Names() {
		wg.Go(func() { c.deliver(ctx, name) })
		wg.Go(func() { c.poll(ctx, name) })
	}
	wg.Wait()
}

// deliver is one helpdesk's worker.
func (c *Courier) deliver(ctx context.Context, name string) {
	t := time.NewTicker(c.Tick)
	defer t.Stop()
	for {
		if err := c.Store.PlanDeliveries(ctx, time.Now()); err != nil && ctx.Err() == nil {
			c.Log.Error("helpdesk outbox", "helpdesk", name, "err", err)
		}
		due, err := c.Store.DueDeliveries(ctx, name, time.Now(), 50)
		if err != nil && ctx.Err() == nil {
			c.Log.Error("helpdesk outbox", "helpdesk", name, "err", err)
		}
		for _, d := range due {
			if ctx.Err() != nil {
				return
			}
			c.send(ctx, d)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.wake[name]:
		case <-t.C:
		}
	}
}

// send makes one attempt at step d and records how it went.
func (c *Courier) send(ctx context.Context, d store.Delivery) {
	next := time.Now().Add(c.backoff(d.Attempts))
	if err := c.Store.AttemptDelivery(ctx, d.ID, next); err != nil {
		c.Log.Error("helpdesk outbox", "helpdesk", d.Helpdesk, "delivery", d.ID, "err", err)
		return
	}
	err := c.step(ctx, d)
	c.metrics.attempt(d, err)
	if err == nil {
		if err := c.Store.FinishDelivery(context.WithoutCancel(ctx), d.ID, time.Now()); err != nil {
			c.Log.Error("helpdesk outbox", "helpdesk", d.Helpdesk, "delivery", d.ID, "err", err)
		}
		c.Log.Info("delivered to the helpdesk", "helpdesk", d.Helpdesk, "ticket", d.Ticket, "step", d.Step, "marker", d.Marker)
		return
	}
	var retry time.Time
	var se *helpdesk.StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		retry = time.Now().Add(min(se.RetryAfter, c.MaxRetry))
	}
	if ferr := c.Store.FailDelivery(context.WithoutCancel(ctx), d.ID, err.Error(), retry); ferr != nil {
		c.Log.Error("helpdesk outbox", "helpdesk", d.Helpdesk, "delivery", d.ID, "err", ferr)
	}
	c.Log.Warn("helpdesk delivery failed; it will be retried", "helpdesk", d.Helpdesk, "ticket", d.Ticket, "step", d.Step,
		"attempt", d.Attempts+1, "next", cmpTime(retry, next), "err", err)
}

func cmpTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

// backoff is the delay before the attempt after attempt n (from 0):
// Retry doubled n times, up to MaxRetry, less up to a fifth at random so
// that many steps do not retry at once.
func (c *Courier) backoff(n int) time.Duration {
	d := c.Retry
	for i := 0; i < n && d < c.MaxRetry; i++ {
		d *= 2
	}
	d = min(d, c.MaxRetry)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// step performs d on its helpdesk; the error says why it did not.
func (c *Courier) step(ctx context.Context, d store.Delivery) error {
	conn, ok := c.Connectors[d.Helpdesk]
	if !ok {
		return fmt.Errorf("no helpdesk named %q is configured", d.Helpdesk)
	}
	switch d.Step {
	case store.StepOpen:
		return c.open(ctx, conn, d)
	case store.StepComment:
		return c.comment(ctx, conn, d)
	case store.StepAttach:
		return c.attach(ctx, conn, d)
	}
	return fmt.Errorf("unknown step %q", d.Step)
}

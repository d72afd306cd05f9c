// Package alerting runs the alert engine inside the collector: every
// interval it evaluates the rules over the fleet's health snapshots,
// persists the engine's state and hands the transitions to notifiers
// (Alertmanager, webhooks, proactive tickets).
package alerting

import (
	"context"
	"log/slog"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/store"
)

// Notifier receives the transitions of one evaluation. Notify must not
// block for long: slow work belongs on the notifier's own queue.
type Notifier interface {
	Notify(ctx context.Context, ts []alert.Transition)
}

// Runner evaluates the rules periodically.
type Runner struct {
	Engine *alert.Engine
	Store  store.Store
	// Online returns the agents connected now; may be nil.
	Online    func() map[string]time.Time
	Notifiers []Notifier
	Log       *slog.Logger
	// Interval is the time between evaluations; default 30s.
	Interval time.Duration
	// Observe, which may be nil, receives each evaluation's duration and
	// error (for metrics).
	Observe func(took time.Duration, err error)
}

// Restore loads the engine's saved state and silences.
func (r *Runner) Restore(ctx context.Context) error {
	alerts, err := r.Store.AlertState(ctx)
	if err != nil {
		return err
	}
	r.Engine.Restore(alerts)
	silences, err := r.Store.Silences(ctx, time.Now())
	if err != nil {
		return err
	}
	r.Engine.SetSilences(silences)
	return nil
}

// Run evaluates every Interval until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	if r.Interval <= 0 {
		r.Interval = 30 * time.Second
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := r.Tick(ctx, start.UTC())
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.logger().Error("alert evaluation", "err", err)
		}
		if r.Observe != nil {
			r.Observe(time.Since(start), err)
		}
	}
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

// Tick runs one evaluation at now: it gathers the inputs, evaluates,
// saves the state and notifies.
func (r *Runner) Tick(ctx context.Context, now time.Time) error {
	silences, err := r.Store.Silences(ctx, now)
	if err != nil {
		return err
	}
	r.Engine.SetSilences(silences)
	inputs, err := r.Inputs(ctx, now)
	if err != nil {
		return err
	}
	ts := r.Engine.Evaluate(now, inputs)
	if err := r.Store.SaveAlertState(ctx, r.Engine.State()); err != nil {
		return err
	}
	if len(ts) == 0 {
		return nil
	}
	for _, t := range ts {
		r.logger().Info("alert", "kind", t.Kind, "rule", t.Alert.Rule, "agent", t.Alert.AgentID, "fingerprint", t.Alert.Fingerprint)
	}
	for _, n := range r.Notifiers {
		n.Notify(ctx, ts)
	}
	return nil
}

// Inputs builds the engine's input at now for every agent not revoked.
func (r *Runner) Inputs(ctx context.Context, now time.Time) ([]alert.Input, error) {
	agents, err := r.Store.Agents(ctx)
	if err != nil {
		return nil, err
	}
	var online map[string]time.Time
	if r.Online != nil {
		online = r.Online()
	}
	out := make([]alert.Input, 0, len(agents))
	for _, ag := range agents {
		if !ag.RevokedAt.IsZero() {
			continue
		}
		_, on := online[ag.ID]
		in := alert.Input{AgentID: ag.ID, Hostname: ag.Facts.Hostname, OS: ag.Facts.OS, CPUs: ag.Facts.CPUs, LastSeen: ag.LastSeen, Online: on}
		// An enrolled agent's alerts rest on what it delivered, never on
		// a document imported under its name.
		delivered := store.Delivers(ag.ID)
		snaps, err := r.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Kind: "health", Delivered: delivered, Limit: 2})
		if err != nil {
			return nil, err
		}
		faults, err := r.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Faults: true, Since: now.Add(-alert.FaultWindow), Delivered: delivered, Limit: 20})
		if err != nil {
			return nil, err
		}
		for _, f := range faults {
			in.Faults = append(in.Faults, alert.Fault{Trigger: f.Trigger, CapturedAt: f.CapturedAt})
		}
		for i, s := range snaps {
			full, err := r.Store.Snapshot(ctx, s.ID)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				in.Health = &full.Document
			} else {
				in.Previous = &full.Document
			}
		}
		out = append(out, in)
	}
	return out, nil
}

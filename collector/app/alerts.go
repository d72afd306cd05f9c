package app

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/alerting"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/metrics"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/cliflag"
)

// alertFlags are serve's alerting flags.
type alertFlags struct {
	interval     *time.Duration
	alertmanager cliflag.List
	webhooks     cliflag.List
}

func (f *alertFlags) register(fs *flag.FlagSet) {
	f.interval = fs.Duration("alert-interval", 30*time.Second, "how often alert rules are evaluated")
	fs.Var(&f.alertmanager, "alertmanager", "Alertmanager base `URL` to send alerts to (comma-separated, repeatable)")
	fs.Var(&f.webhooks, "webhook", "`URL` to post alert transitions to, signed with $SONDE_WEBHOOK_SECRET (comma-separated, repeatable)")
}

// check rejects alerting flags that cannot work.
func (f *alertFlags) check() error {
	if *f.interval <= 0 {
		return fmt.Errorf("--alert-interval must be positive (got %s)", *f.interval)
	}
	for _, u := range f.alertmanager {
		if err := checkURL("--alertmanager", u); err != nil {
			return err
		}
	}
	for _, u := range f.webhooks {
		if err := checkURL("--webhook", u); err != nil {
			return err
		}
	}
	return nil
}

// alerts is the collector's alerting, ready to start: its rules loaded
// (defaults plus DATA/rules) and its engine's state restored.
type alerts struct {
	rules    *alert.Reloader
	rulesDir string
	engine   *alert.Engine
	runner   *alerting.Runner
	flags    alertFlags
}

// loadAlerting loads the rules and restores the engine's state from the
// store; nothing runs yet.
func loadAlerting(ctx context.Context, log *slog.Logger, data string, st store.Store, f alertFlags) (*alerts, error) {
	rulesDir := filepath.Join(data, "rules")
	rules, err := alert.NewReloader(alert.DefaultRules, rulesDir)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	engine := alert.NewEngine(rules, alert.Options{})
	r := &alerting.Runner{Engine: engine, Store: st, Log: log, Interval: *f.interval}
	if err := r.Restore(ctx); err != nil {
		return nil, fmt.Errorf("restoring alert state: %w", err)
	}
	return &alerts{rules: rules, rulesDir: rulesDir, engine: engine, runner: r, flags: f}, nil
}

// onlineSince is when each connected agent connected, as the alert runner
// wants it.
func onlineSince(agents api.Agents) func() map[string]time.Time {
	return func() map[string]time.Time {
		live := agents.Connected()
		out := make(map[string]time.Time, len(live))
		for id, l := range live {
			out[id] = l.Since
		}
		return out
	}
}

// start runs the rules' watcher, the runner (its evaluations observed by
// m) and its notifiers in g until ctx ends; g.Wait returns once each has
// stopped.
func (al *alerts) start(ctx context.Context, g *errgroup.Group, log *slog.Logger, external string, a *api.API, agents api.Agents, m *metrics.Metrics) {
	f, r := al.flags, al.runner
	r.Online, r.Observe = onlineSince(agents), m.AlertEvaluated
	g.Go(func() error {
		al.rules.Watch(ctx, 2*time.Second, func(err error) { log.Error("alert rules", "dir", al.rulesDir, "err", err) })
		return nil
	})
	// A notifier's queue runs from Start until ctx ends; Wait joins it.
	type notifier interface {
		alerting.Notifier
		Start(context.Context, int)
		Wait()
	}
	var ns []notifier
	for _, u := range f.alertmanager {
		ns = append(ns, &alerting.Alertmanager{URL: u, ExternalURL: external, Log: log})
	}
	secret := os.Getenv("SONDE_WEBHOOK_SECRET")
	if len(f.webhooks) > 0 && secret == "" {
		log.Warn("webhooks configured without SONDE_WEBHOOK_SECRET: their signatures prove nothing")
	}
	for _, u := range f.webhooks {
		ns = append(ns, &alerting.Webhook{URL: u, Secret: []byte(secret), Log: log})
	}
	ns = append(ns, &alerting.Tickets{API: a, Firing: al.engine.State, Log: log})
	const queued = 1000
	for _, n := range ns {
		n.Start(ctx, queued)
		g.Go(func() error { n.Wait(); return nil })
		r.Notifiers = append(r.Notifiers, n)
	}
	g.Go(func() error { r.Run(ctx); return nil })
	log.Info("alerting", "interval", r.Interval, "rules_dir", al.rulesDir, "rules", al.rules.Current().Len(), "alertmanagers", len(f.alertmanager), "webhooks", len(f.webhooks))
}

package app

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/alerting"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/metrics"
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

// startAlerting loads the rules (defaults plus DATA/rules), restores the
// engine's state and starts the runner (its evaluations observed by m),
// its notifiers and the rules' watcher; all stop with ctx.
func startAlerting(ctx context.Context, log *slog.Logger, data, external string, a *api.API, agents api.Agents, m *metrics.Metrics, f alertFlags) error {
	rulesDir := filepath.Join(data, "rules")
	rules, err := alert.NewReloader(alert.DefaultRules, rulesDir)
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	go rules.Watch(ctx, 2*time.Second, func(err error) { log.Error("alert rules", "dir", rulesDir, "err", err) })
	engine := alert.NewEngine(rules, alert.Options{})
	r := &alerting.Runner{Engine: engine, Store: a.Store, Online: agents.Connected, Log: log, Interval: *f.interval, Observe: m.AlertEvaluated}
	if err := r.Restore(ctx); err != nil {
		return fmt.Errorf("restoring alert state: %w", err)
	}
	const queued = 1000
	for _, u := range f.alertmanager {
		am := &alerting.Alertmanager{URL: u, ExternalURL: external, Log: log}
		am.Start(ctx, queued)
		r.Notifiers = append(r.Notifiers, am)
	}
	secret := os.Getenv("SONDE_WEBHOOK_SECRET")
	if len(f.webhooks) > 0 && secret == "" {
		log.Warn("webhooks configured without SONDE_WEBHOOK_SECRET: their signatures prove nothing")
	}
	for _, u := range f.webhooks {
		w := &alerting.Webhook{URL: u, Secret: []byte(secret), Log: log}
		w.Start(ctx, queued)
		r.Notifiers = append(r.Notifiers, w)
	}
	tk := &alerting.Tickets{API: a, Firing: engine.State, Log: log}
	tk.Start(ctx, queued)
	r.Notifiers = append(r.Notifiers, tk)
	go r.Run(ctx)
	log.Info("alerting", "interval", r.Interval, "rules_dir", rulesDir, "rules", rules.Current().Len(), "alertmanagers", len(f.alertmanager), "webhooks", len(f.webhooks))
	return nil
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/config"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
)

// Retry pacing of an enrollment left by an installer.
const (
	enrollRetryFirst = 5 * time.Second
	enrollRetryMax   = 5 * time.Minute
)

// autoEnroll enrolls an agent that is not enrolled yet with what an
// installer left (config.LoadEnrollment: SONDE_ENROLL_* variables or the
// enrollment file), trying again until it works or ctx ends, so that a
// collector out of reach at install time never fails the install nor
// leaves a service that gave up. Each try reads the settings again, so an
// administrator may correct them in place. Once enrolled, the settings,
// whose token is spent, are removed (config.RemoveEnrollment). It returns state.ErrNotEnrolled when there
// is nothing to enroll with.
func autoEnroll(ctx context.Context, dir, path string, px *client.Proxies, log *slog.Logger) error {
	wait := enrollRetryFirst
	for attempt := 1; ; attempt++ {
		e, ok, err := config.LoadEnrollment(path, nil)
		switch {
		case err == nil && !ok:
			return state.ErrNotEnrolled
		case err == nil && !e.Complete():
			err = fmt.Errorf("the enrollment settings lack one of %s, %s and %s", config.EnvCollector, config.EnvToken, config.EnvCAPin)
		case err == nil:
			err = enrollOnce(ctx, dir, e, px, log)
			if err == nil {
				if rerr := config.RemoveEnrollment(path); rerr != nil {
					log.Warn("the enrollment settings could not be removed; their token is spent", "err", rerr)
				}
				return nil
			}
		}
		log.Error("enrolling with the installer's settings failed; trying again", "attempt", attempt, "in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("enrolling with the installer's settings: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, enrollRetryMax)
	}
}

func enrollOnce(ctx context.Context, dir string, e config.Enrollment, px *client.Proxies, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, err := client.Enroll(ctx, dir, e.Collector, e.Token, e.CAPin, probe.ReadFacts(ctx), px)
	if err != nil {
		return fmt.Errorf("enrolling with %s: %w", e.Collector, err)
	}
	log.Info("enrolled with the installer's settings", "agent", cfg.AgentID, "collector", cfg.Collector)
	return nil
}

package app

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/kardianos/service"
)

// recoveryDelays are the waits before the service manager restarts an
// agent that failed: the first, the second, then every later failure.
// The count of failures starts afresh after recoveryReset without one.
var recoveryDelays = []time.Duration{5 * time.Second, 30 * time.Second, time.Minute}

const recoveryReset = 24 * time.Hour

// recoveryAction is one entry of a service's failure actions.
type recoveryAction struct {
	restart bool // else anything other than restarting the service
	delay   time.Duration
}

// hasRecovery reports whether a service's failure actions and reset
// period are already recoveryDelays and recoveryReset, so that setting
// them at every start writes the service's configuration once.
func hasRecovery(actions []recoveryAction, reset time.Duration) bool {
	want := make([]recoveryAction, len(recoveryDelays))
	for i, d := range recoveryDelays {
		want[i] = recoveryAction{restart: true, delay: d}
	}
	return reset == recoveryReset && slices.Equal(actions, want)
}

// ensureServiceRecovery has the service manager restart the agent when it
// fails (on Windows: the service's recovery actions, which an MSI cannot
// set). It never stops the agent from starting: a failure is logged, on
// stderr and in the system's log.
func ensureServiceRecovery(s service.Service, stderr io.Writer) {
	err := ensureRecovery(serviceName)
	if err == nil {
		return
	}
	err = fmt.Errorf("setting the service's recovery actions (restart on failure): %w", err)
	slog.New(slog.NewJSONHandler(stderr, nil)).Warn("the agent will not be restarted if it fails", "err", err)
	if l, lerr := s.Logger(nil); lerr == nil {
		_ = l.Warning(err.Error()) // nowhere left to report to
	}
}

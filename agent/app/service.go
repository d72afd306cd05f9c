package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kardianos/service"

	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

// program adapts the agent to the service manager: Start returns at once
// and Stop waits for the agent to finish.
type program struct {
	flags  runFlags
	stderr io.Writer
	cancel context.CancelFunc
	done   chan struct{} // closed when the agent has finished
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := p.flags.run(ctx, p.stderr); err != nil {
			fmt.Fprintln(p.stderr, "sonde-agent:", render.Clean(err.Error()))
		}
	}()
	return nil
}

// Stop ends the agent's context and waits for it to finish, up to
// stopGrace: the service manager has no context to give, and kills what
// outstays its own timeout.
func (p *program) Stop(service.Service) error {
	p.cancel()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("the agent did not stop within %s", stopGrace)
	}
}

// stopGrace bounds Stop.
const stopGrace = 10 * time.Second

// serviceName is the agent's service, also in the packages' service
// definitions (systemd unit, MSI, launchd plist).
const serviceName = "sonde-agent"

func newService(f runFlags, stderr io.Writer) (service.Service, *program, error) {
	p := &program{flags: f, stderr: stderr}
	s, err := service.New(p, &service.Config{
		Name:        serviceName,
		DisplayName: "Sonde diagnostics agent",
		Description: "Collects read-only diagnostics snapshots for IT support and sends them to the Sonde collector.",
		Arguments:   f.serviceArgs(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the sonde-agent service: %w", err)
	}
	return s, p, nil
}

// serviceArgs are the arguments the service manager starts the agent
// with: the flags given to install.
func (f runFlags) serviceArgs() []string {
	args := []string{"run", "--state", f.dir, "--log-format", "json", "--health-interval", f.health.String(),
		"--spool-max", strconv.FormatInt(f.spoolMax, 10)}
	// The service starts in another folder than install ran in.
	for _, p := range []struct{ flag, path string }{{"--config", f.config}, {"--enroll-file", f.enroll}} {
		if p.path == "" {
			continue
		}
		path, err := filepath.Abs(p.path)
		if err != nil {
			path = p.path
		}
		args = append(args, p.flag, path)
	}
	return args
}

func isInteractive() bool { return service.Interactive() }

// runService runs under the service manager (systemd, SCM, launchd).
func runService(f runFlags, stderr io.Writer) error {
	f.logFormat = "json"
	s, _, err := newService(f, stderr)
	if err != nil {
		return err
	}
	ensureServiceRecovery(s, stderr)
	if err := s.Run(); err != nil {
		return fmt.Errorf("running as the sonde-agent service: %w", err)
	}
	return nil
}

// control installs, removes, starts or stops the service.
func control(action string, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := cliflag.New(action, "sonde-agent "+action+" [--state DIR]", stderr)
	f.register(fs)
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	s, _, err := newService(f, stderr)
	if err != nil {
		return err
	}
	if err := service.Control(s, action); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	fmt.Fprintf(stdout, "sonde-agent service: %s done\n", action)
	return nil
}

package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/kardianos/service"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

// The commands here only read, and are for whoever sits at the machine,
// root or not: they read the public folder beside the state dir (see
// state.PublicDir), never the state dir's secrets.

// readDir picks the state dir of a command that only reads: the one given
// with --state; else this user's default when it exists (an agent run
// without root); else the system agent's, which is the one a user who is
// not root wants to hear about.
func readDir(fs *flag.FlagSet, dir string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "state" })
	if given || dir == state.SystemDir() {
		return dir
	}
	for _, d := range []string{dir, state.PublicDir(dir)} {
		if _, err := os.Lstat(d); err == nil {
			return dir
		}
	}
	return state.SystemDir()
}

// rootOnlyError says that the receipts exist, or may, but this user may
// not read them: an install from before the public folder, or a folder
// whose permissions were changed.
type rootOnlyError struct{ command string }

func (e *rootOnlyError) Error() string {
	if runtime.GOOS == "windows" {
		return "the receipts are readable by Administrators only on this machine: ask IT, or run in an administrator prompt: " + e.command
	}
	return "the receipts are readable by root only on this machine: ask IT, or run: sudo " + e.command
}

// readReceipts returns the newest receipts of the agent with state dir dir,
// at most limit: those in its public folder, after any an older agent left
// in the state dir itself that are readable here. command is how to run
// this again, for the message when they are not.
func readReceipts(dir string, limit int, command string) ([]receipt.Receipt, error) {
	pub := state.PublicDir(dir)
	public, err := receipt.Read(0, pub)
	if errors.Is(err, fs.ErrPermission) {
		return nil, &rootOnlyError{command}
	}
	if err != nil {
		return nil, err
	}
	legacy, err := receipt.Read(0, dir)
	if errors.Is(err, fs.ErrPermission) {
		// An agent that made the public folder moved the receipts into it
		// (receipt.Migrate); without one, they are all in the state dir.
		if _, serr := os.Stat(pub); serr != nil {
			return nil, &rootOnlyError{command}
		}
		legacy, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	list := append(legacy, public...)
	if limit > 0 && len(list) > limit {
		list = list[len(list)-limit:]
	}
	return list, nil
}

// exitStatus ends a command with a status and no message: the command has
// said what it had to.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Exit statuses of `status`, as for an init script's status (LSB).
const (
	statusRunning    = 0
	statusNotRunning = 3
	statusUnknown    = 4
)

// agentStatus says in plain words whether the agent is installed, running
// and connected.
func agentStatus(args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := cliflag.New("status", "sonde-agent status [--state DIR]", stderr)
	f.register(fs)
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	dir := readDir(fs, f.dir)
	var (
		st       service.Status
		err      error
		platform string
	)
	s, _, err := newService(f, stderr)
	if err == nil {
		platform = s.Platform()
		st, err = s.Status()
	}
	conn, connErr := status.Read(state.PublicDir(dir))
	if connErr != nil {
		conn = nil
	}
	lines, code := describe(platform, st, err, conn, status.Alive)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

// describe turns what the service manager says (st, err) and the status
// file the agent wrote (conn, nil when there is none or it cannot be read)
// into sentences and an exit status. alive tells whether the process that
// wrote the file still runs.
func describe(platform string, st service.Status, err error, conn *status.Status, alive func(int) bool) ([]string, int) {
	live := conn != nil && !conn.Stopped && alive(conn.PID)
	switch {
	case err == nil && st == service.StatusRunning:
		if live {
			return []string{connection(conn)}, statusRunning
		}
		return []string{"running"}, statusRunning
	case errors.Is(err, service.ErrNotInstalled), err == nil && st == service.StatusStopped:
		line := "not installed"
		if err == nil {
			line = "installed, stopped"
		}
		if live {
			return []string{line, fmt.Sprintf("an agent runs outside the service manager (process %d): %s", conn.PID, connection(conn))}, statusRunning
		}
		return []string{line}, statusNotRunning
	}
	if err == nil {
		err = fmt.Errorf("it answers %q", "unknown")
	}
	if platform != "" {
		platform = " (" + platform + ")"
	}
	lines := []string{fmt.Sprintf("cannot ask the service manager%s: %s", platform, render.Clean(err.Error()))}
	if live {
		return append(lines, fmt.Sprintf("the agent (process %d) reports: %s", conn.PID, connection(conn))), statusRunning
	}
	return lines, statusUnknown
}

// connection describes a running agent's connection.
func connection(s *status.Status) string {
	switch {
	case s.Connected:
		why := ""
		if s.Transport == "TCP" {
			why = " (UDP is blocked on this network; QUIC is tried again every few minutes)"
		}
		return fmt.Sprintf("running, connected to %s over %s since %s%s", render.Clean(s.Collector), render.Clean(s.Transport),
			s.Since.Local().Format(time.DateTime), why)
	case s.Error != "":
		return "running, not connected: " + render.Clean(s.Error)
	}
	return "running, connecting to " + render.Clean(s.Collector)
}

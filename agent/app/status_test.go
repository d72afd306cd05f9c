package app

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/internal/version"
)

// TestDescribe: what the service manager says, and what the agent last
// wrote in its status file, become plain sentences, never a bare error.
func TestDescribe(t *testing.T) {
	since := time.Date(2026, 11, 24, 9, 30, 0, 0, time.Local)
	connected := &status.Status{PID: 10, Collector: "collector.example.net:7443", Connected: true, Transport: "QUIC", Since: since}
	down := &status.Status{PID: 10, Collector: "collector.example.net:7443", Since: since,
		Error: "connecting to collector.example.net:7443: timeout: no recent network activity"}
	starting := &status.Status{PID: 10, Collector: "collector.example.net:7443", Since: since}
	stopped := &status.Status{PID: 10, Collector: "collector.example.net:7443", Stopped: true}
	dead := &status.Status{PID: 11, Collector: "collector.example.net:7443", Connected: true, Transport: "QUIC", Since: since}
	overTCP := &status.Status{PID: 10, Collector: "collector.example.net:7443", Connected: true, Transport: "TCP", Since: since}
	alive := func(pid int) bool { return pid == 10 }
	exit1 := errors.New("exit status 1") // as kardianos passes on `service sonde-agent status` failing
	const at = "2026-11-24 09:30:00"
	for _, tc := range []struct {
		name     string
		platform string
		st       service.Status
		err      error
		conn     *status.Status
		want     []string
		code     int
	}{
		{"connected", "linux-systemd", service.StatusRunning, nil, connected,
			[]string{"running, connected to collector.example.net:7443 over QUIC since " + at}, 0},
		{"connected over TCP", "linux-systemd", service.StatusRunning, nil, overTCP,
			[]string{"running, connected to collector.example.net:7443 over TCP since " + at + " (UDP is blocked on this network; QUIC is tried again every few minutes)"}, 0},
		{"not connected", "linux-systemd", service.StatusRunning, nil, down,
			[]string{"running, not connected: connecting to collector.example.net:7443: timeout: no recent network activity"}, 0},
		{"connecting", "linux-systemd", service.StatusRunning, nil, starting,
			[]string{"running, connecting to collector.example.net:7443"}, 0},
		{"no status file", "linux-systemd", service.StatusRunning, nil, nil, []string{"running"}, 0},
		{"status file of a process gone", "linux-systemd", service.StatusRunning, nil, dead, []string{"running"}, 0},
		{"status file of an agent that stopped", "windows-service", service.StatusRunning, nil, stopped, []string{"running"}, 0},
		{"stopped", "linux-systemd", service.StatusStopped, nil, stopped, []string{"installed, stopped"}, 3},
		{"stopped, an old status file", "linux-systemd", service.StatusStopped, nil, dead, []string{"installed, stopped"}, 3},
		{"not installed", "linux-systemd", service.StatusUnknown, service.ErrNotInstalled, nil, []string{"not installed"}, 3},
		{"not installed, an agent in the foreground", "darwin-launchd", service.StatusUnknown, service.ErrNotInstalled, connected,
			[]string{"not installed", "an agent runs outside the service manager (process 10): running, connected to collector.example.net:7443 over QUIC since " + at}, 0},
		{"no service manager", "unix-systemv", service.StatusUnknown, exit1, nil,
			[]string{"cannot ask the service manager (unix-systemv): exit status 1"}, 4},
		{"no service manager, the agent reports", "unix-systemv", service.StatusUnknown, exit1, down,
			[]string{"cannot ask the service manager (unix-systemv): exit status 1",
				"the agent (process 10) reports: running, not connected: connecting to collector.example.net:7443: timeout: no recent network activity"}, 0},
		{"unknown without an error", "linux-systemd", service.StatusUnknown, nil, nil,
			[]string{`cannot ask the service manager (linux-systemd): it answers "unknown"`}, 4},
		{"failed unit", "linux-systemd", service.StatusUnknown, errors.New("service in failed state"), nil,
			[]string{"cannot ask the service manager (linux-systemd): service in failed state"}, 4},
		{"no service at all", "", service.StatusUnknown, errors.New("no service system detected"), nil,
			[]string{"cannot ask the service manager: no service system detected"}, 4},
		{"a hostile error message", "linux-systemd", service.StatusRunning, nil,
			&status.Status{PID: 10, Error: "refused\x1b]0;pwned\x07"}, []string{`running, not connected: refused\x1b]0;pwned\x07`}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := describe(tc.platform, tc.st, tc.err, tc.conn, alive)
			if !slices.Equal(got, tc.want) || code != tc.code {
				t.Errorf("got %q, exit %d\nwant %q, exit %d", got, code, tc.want, tc.code)
			}
		})
	}
}

// TestStatusCommand: `sonde-agent status` on this machine, whatever its
// service manager, prints sentences and no "exit status".
func TestStatusCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(t.Context(), []string{"status", "--state", t.TempDir()}, &out, &errOut)
	t.Logf("exit %d\n%s%s", code, out.String(), errOut.String())
	if errOut.Len() != 0 || out.Len() == 0 || !slices.Contains([]int{0, 3, 4}, code) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	if strings.HasPrefix(out.String(), "exit status") || strings.HasPrefix(out.String(), "sonde-agent:") {
		t.Fatalf("a bare error: %q", out.String())
	}
}

// TestReadDir: receipts and status read the state dir given; without one,
// this user's own if it has one, else the system agent's.
func TestReadDir(t *testing.T) {
	parse := func(args ...string) (*flag.FlagSet, string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		dir := fs.String("state", filepath.Join(t.TempDir(), "mine"), "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs, *dir
	}
	given := filepath.Join(t.TempDir(), "absent")
	if fs, dir := parse("--state", given); readDir(fs, dir) != given {
		t.Errorf("--state %s not used", given)
	}
	if fs, dir := parse(); readDir(fs, dir) != state.SystemDir() {
		t.Errorf("without a state dir of this user's, not the system agent's: %s", readDir(fs, dir))
	}
	fs, dir := parse()
	os.Mkdir(dir, 0o700)
	if readDir(fs, dir) != dir {
		t.Errorf("this user's state dir not used")
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out bytes.Buffer
		if code := Main(t.Context(), []string{arg}, &out, &out); code != 0 {
			t.Fatalf("%s: exit %d: %s", arg, code, out.String())
		}
		for _, want := range []string{"sonde-agent " + version.Version + " (", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s prints %q, without %q", arg, out.String(), want)
			}
		}
	}
}

// TestReceiptsNothingYet: with no receipts anywhere, say so, and where it
// looked when there is no agent there.
func TestReceiptsNothingYet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var out bytes.Buffer
	if code := Main(t.Context(), []string{"receipts", "--state", dir}, &out, &out); code != 0 || out.String() != "nothing collected yet (no agent state in "+dir+")\n" {
		t.Fatalf("exit %d: %q", code, out.String())
	}
	os.Mkdir(dir, 0o700)
	os.Mkdir(state.PublicDir(dir), 0o755)
	out.Reset()
	if code := Main(t.Context(), []string{"receipts", "--state", dir}, &out, &out); code != 0 || out.String() != "nothing collected yet\n" {
		t.Fatalf("exit %d: %q", code, out.String())
	}
}

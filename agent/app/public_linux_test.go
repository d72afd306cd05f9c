package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
)

// nobody is the user the reader runs as: not root, in no group of root's.
const nobody = 65534

// passableTempDir is a temporary folder that every user may enter, as
// /var/lib is (t.TempDir's parents are 0700).
func passableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sonde-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// agentAs is this test binary copied where user nobody may run it; run as
// the agent (see TestMain).
func agentAs(t *testing.T, root string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "sonde-agent-test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runAs runs the agent command args as user uid and returns its output
// and exit status.
func runAs(t *testing.T, bin string, uid uint32, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"SONDE_AGENT_TEST_MAIN=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %v as %d: %v", args, uid, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// startAgent runs the agent on the state dir dir, as `sonde-agent run`
// does, until the test stops it.
func startAgent(t *testing.T, dir string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	f := &runFlags{dir: dir, health: time.Hour, logFormat: "text", spoolMax: spool.DefaultCap}
	go func() { done <- f.run(ctx, io.Discard) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReceiptsForEveryone: a user who is not root (nobody) sees the
// receipts of what a real agent run sent, and its connection status, while
// the private key stays out of reach; where the receipts are root's alone
// (permissions changed, an install from before the public folder) the user
// is told so, never "nothing collected yet"; and the next run moves an
// older install's receipts where the user can read them.
func TestReceiptsForEveryone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the reader runs as user nobody, and only root can switch to another user")
	}
	root := passableTempDir(t) // stands for /var/lib
	bin := agentAs(t, root)
	dir := filepath.Join(root, "sonde-agent")
	pub := state.PublicDir(dir)
	col := startCollector(t, "INC-4711")
	col.enroll(t, dir)

	stop := startAgent(t, dir)
	delivered := func(kind, ticket string) bool {
		list, _ := receipt.Read(0, pub)
		return slices.ContainsFunc(list, func(r receipt.Receipt) bool {
			return r.Delivered && r.Kind == kind && r.Ticket == ticket && r.Collector == col.addr
		})
	}
	waitFor(t, "the agent to deliver a health snapshot and the requested one", func() bool {
		return delivered("periodic", "") && delivered("requested", "INC-4711")
	})

	out, errOut, code := runAs(t, bin, nobody, "status", "--state", dir)
	t.Logf("sonde-agent status, as nobody (exit %d):\n%s%s", code, out, errOut)
	if want := "running, connected to " + col.addr + " over QUIC since "; !strings.Contains(out, want) || code != 0 {
		t.Errorf("status as nobody: exit %d, %q; want %q in it", code, out+errOut, want)
	}
	stop()

	out, errOut, code = runAs(t, bin, nobody, "receipts", "--state", dir)
	t.Logf("sonde-agent receipts, as nobody (exit %d):\n%s%s", code, out, errOut)
	if code != 0 || !strings.Contains(out, "INC-4711") || !strings.Contains(out, "periodic") || !strings.Contains(out, col.addr) ||
		strings.Count(out, "  yes\n") < 2 {
		t.Fatalf("receipts as nobody: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runAs(t, bin, nobody, "receipts", "--state", dir, "--json")
	if code != 0 || !strings.Contains(out, `"ticket":"INC-4711"`) {
		t.Fatalf("receipts --json as nobody: exit %d\n%s", code, out)
	}

	// The secrets stay where they were, and nothing secret is public.
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "agent.key"): 0o600, pub: 0o755} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode().Perm(), mode)
		}
	}
	entries, _ := os.ReadDir(pub)
	for _, e := range entries {
		if !slices.Contains([]string{receipt.File, receipt.File + ".1", status.File}, e.Name()) {
			t.Errorf("public folder holds %s", e.Name())
		}
	}

	// Permissions changed: the user is told whom to ask.
	const rootOnly = "the receipts are readable by root only on this machine: ask IT, or run: sudo sonde-agent receipts"
	os.Chmod(pub, 0o700)
	out, errOut, code = runAs(t, bin, nobody, "receipts", "--state", dir)
	t.Logf("sonde-agent receipts, public folder 0700 (exit %d):\n%s%s", code, out, errOut)
	if code != 1 || !strings.Contains(errOut, rootOnly) || strings.Contains(out+errOut, "nothing collected") {
		t.Errorf("receipts as nobody, public folder 0700: exit %d\n%s%s", code, out, errOut)
	}
	os.Chmod(pub, 0o755)

	// An install from before the public folder: the receipts are in the
	// state dir.
	for _, f := range []string{receipt.File, receipt.File + ".1"} {
		if err := os.Rename(filepath.Join(pub, f), filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, f), 0o600)
	}
	if err := os.RemoveAll(pub); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runAs(t, bin, nobody, "receipts", "--state", dir)
	t.Logf("sonde-agent receipts, older install (exit %d):\n%s%s", code, out, errOut)
	if code != 1 || !strings.Contains(errOut, rootOnly) || strings.Contains(out+errOut, "nothing collected") {
		t.Errorf("receipts as nobody, older install: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runAs(t, bin, 0, "receipts", "--state", dir)
	if code != 0 || !strings.Contains(out, "INC-4711") {
		t.Errorf("receipts as root, older install: exit %d\n%s%s", code, out, errOut)
	}

	// The upgraded agent's next run moves them into the public folder.
	stop = startAgent(t, dir)
	waitFor(t, "the agent to start", func() bool {
		_, err := status.Read(pub)
		return err == nil
	})
	stop()
	out, errOut, code = runAs(t, bin, nobody, "receipts", "--state", dir)
	if code != 0 || !strings.Contains(out, "INC-4711") {
		t.Errorf("receipts as nobody after the upgraded agent ran: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, receipt.File)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("receipts left in the state dir: %v", err)
	}
	out, _, _ = runAs(t, bin, nobody, "status", "--state", dir)
	t.Logf("sonde-agent status after the agent stopped, as nobody:\n%s", out)
}

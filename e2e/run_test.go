//go:build !windows

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// runScript runs scripts/run.sh with the test's binaries, state in dir
// and the given addresses, and returns its output and how it ended.
func runScript(t *testing.T, dir, httpAddr, quicAddr, verb string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("../scripts/run.sh", verb)
	cmd.Env = append(os.Environ(), "SONDE_BIN="+bin, "SONDE_RUN_DIR="+dir, "SONDE_HTTP="+httpAddr, "SONDE_QUIC="+quicAddr)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// pidIn reads a PID file the script wrote.
func pidIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// alive reports whether a process is there and not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// TestMakeRun drives scripts/run.sh as `make run` does: a first start,
// a second on other ports (the agent follows, the admin key is reused), a
// start refused on a busy port with a hint, and a stop that leaves no
// process behind.
func TestMakeRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	http1, quic1 := harness.FreeAddr(t), harness.FreeAddr(t)
	t.Cleanup(func() { runScript(t, dir, http1, quic1, "stop") })

	// First start: enrolls the agent and makes the key.
	out, errOut, err := runScript(t, dir, http1, quic1, "start")
	if err != nil {
		t.Fatalf("first start: %v\n%s%s", err, out, errOut)
	}
	keyFile := filepath.Join(dir, "admin.key")
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin key file: %v, mode %v; want 0600", err, st.Mode())
	}
	raw, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(raw))
	for _, want := range []string{"SONDE_HTTP=" + http1, "SONDE_QUIC=" + quic1, key, "connected to " + quic1} {
		if !strings.Contains(out, want) {
			t.Errorf("first start does not say %q:\n%s", want, out)
		}
	}

	// Second start on other ports: the same agent, at the new address,
	// and the same key.
	http2, quic2 := harness.FreeAddr(t), harness.FreeAddr(t)
	t.Cleanup(func() { runScript(t, dir, http2, quic2, "stop") })
	out, errOut, err = runScript(t, dir, http2, quic2, "start")
	if err != nil {
		t.Fatalf("second start: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "pointed the local agent at "+quic2) || !strings.Contains(out, key) {
		t.Errorf("second start does not say it moved the agent or does not show the same key:\n%s", out)
	}
	raw, _ = os.ReadFile(keyFile)
	if got := strings.TrimSpace(string(raw)); got != key {
		t.Errorf("the admin key changed: %q, then %q", key, got)
	}
	var agents []agentView
	waitFor(t, "the agent online at the new address", 60*time.Second, func() bool {
		agents = nil
		return api(t, "GET", "http://"+http2+"/api/v1/agents", key, nil, &agents) == 200 && len(agents) == 1 && agents[0].Online
	})
	var cfg struct {
		Collector string `json:"collector"`
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "agent", "agent.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Collector != quic2 {
		t.Errorf("the agent's config names collector %q (%v), want %s", cfg.Collector, err, quic2)
	}
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	api(t, "GET", "http://"+http2+"/api/v1/audit", key, nil, &audit)
	keys := 0
	for _, e := range audit.Entries {
		if e.Action == "apikey create" {
			keys++
		}
	}
	if keys != 1 {
		t.Errorf("%d API keys created over two starts, want 1", keys)
	}
	collector, agent := pidIn(t, filepath.Join(dir, "collector.pid")), pidIn(t, filepath.Join(dir, "agent.pid"))

	// A start on a port another program holds is refused, with whose it
	// is and a free one, and leaves the running copy alone.
	busy, err := net.Listen("tcp", harness.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()
	out, errOut, err = runScript(t, dir, busyAddr, harness.FreeAddr(t), "start")
	if err == nil {
		t.Fatalf("start on a busy port succeeded:\n%s", out)
	}
	_, port, _ := net.SplitHostPort(busyAddr)
	hint := fmt.Sprintf("TCP port %s (SONDE_HTTP=%s) is in use by PID %d (", port, busyAddr, os.Getpid())
	if !strings.Contains(errOut, hint) || !strings.Contains(errOut, "; set SONDE_HTTP=127.0.0.1:") {
		t.Errorf("start on a busy port said:\n%s\nwant %q... and a free address to set", errOut, hint)
	}
	if !alive(collector) || !alive(agent) {
		t.Errorf("the refused start stopped the running collector (%v) or agent (%v)", alive(collector), alive(agent))
	}

	// Stop leaves nothing running.
	out, errOut, err = runScript(t, dir, http2, quic2, "stop")
	if err != nil {
		t.Fatalf("stop: %v\n%s%s", err, out, errOut)
	}
	for name, pid := range map[string]int{"collector": collector, "agent": agent} {
		if alive(pid) {
			t.Errorf("the %s (PID %d) is still running after stop", name, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, f := range []string{"collector.pid", "agent.pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left behind by stop", f)
		}
	}
}

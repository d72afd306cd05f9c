package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeadAgent kills the agent with SIGKILL, so that it closes nothing:
// a snapshot asked for then fails within seconds saying the agent is not
// answering, instead of blocking for its 30 s timeout, and the agent is
// listed offline within 15 s of the kill.
func TestDeadAgent(t *testing.T) {
	s := startSonde(t)
	// A snapshot taken first shows the path works; then the connection
	// is left alone a moment, so that no packet of the agent is still on
	// its way at the kill (it would count as the agent's answer).
	mustRun(t, s.env, "sonde", "snapshot", s.agentID, "--probes", "memory", "--json")
	time.Sleep(time.Second)

	if err := s.agent.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	out, err := run(t, s.env, "sonde", "snapshot", s.agentID, "--probes", "memory", "--timeout", "30s")
	took := time.Since(killed)
	if err == nil || !strings.Contains(err.Error(), "is not answering (last heard ") {
		t.Fatalf("sonde snapshot of a killed agent: %v, output %q; want it to say the agent is not answering", err, out)
	}
	if took > 12*time.Second {
		t.Errorf("the snapshot request failed only %s after the kill", took.Round(time.Millisecond))
	}
	t.Logf("snapshot request failed %s after the kill: %v", took.Round(time.Millisecond), err)

	waitFor(t, "the killed agent to be listed offline", 15*time.Second-time.Since(killed), func() bool {
		var agents []agentView
		api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
		return len(agents) == 1 && !agents[0].Online
	})
	t.Logf("listed offline %s after the kill", time.Since(killed).Round(time.Millisecond))
	if out := mustRun(t, s.env, "sonde", "agents"); !strings.Contains(out, "offline") {
		t.Errorf("sonde agents after the kill:\n%s", out)
	}
}

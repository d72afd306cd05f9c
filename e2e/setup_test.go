package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// sonde is a running collector with one enrolled, connected agent.
type sonde struct {
	data, state, quicAddr, base string
	serveArgs                   []string
	collector, agent            *proc
	key                         string   // an l2 API key
	env                         []string // SONDE_URL and SONDE_TOKEN for the CLI
	agentID, host               string
}

func (s *sonde) startCollector(t *testing.T) {
	t.Helper()
	s.collector = start(t, "sonde-collector", s.serveArgs...)
	waitFor(t, "the collector to be ready", 10*time.Second, func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// enroll makes a token and enrolls an agent with state in s.state.
func (s *sonde) enroll(t *testing.T) {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "sonde-collector", "token", "create", "--data", s.data, "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, "sonde-agent", "enroll", "--state", s.state, "--collector", s.quicAddr, "--token", tok.Token, "--ca-pin", tok.Pin)
}

// startSonde runs a collector and an enrolled agent and waits until the
// agent is online.
func startSonde(t *testing.T) *sonde {
	t.Helper()
	s := &sonde{data: t.TempDir(), state: t.TempDir(), quicAddr: harness.FreeAddr(t)}
	httpAddr := harness.FreeAddr(t)
	s.base = "http://" + httpAddr
	s.serveArgs = []string{"serve", "--data", s.data, "--quic", s.quicAddr, "--http", httpAddr}
	s.startCollector(t)
	s.enroll(t)
	s.agent = start(t, "sonde-agent", "run", "--state", s.state)
	s.key = firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "e2e", "--role", "l2", "--data", s.data))
	s.env = []string{"SONDE_URL=" + s.base, "SONDE_TOKEN=" + s.key}
	var agents []agentView
	waitFor(t, "the agent to be online", 15*time.Second, func() bool {
		agents = nil
		api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	})
	s.agentID, s.host = agents[0].ID, agents[0].Facts.Hostname
	return s
}

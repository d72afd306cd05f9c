//go:build helpdesk

package helpdesk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/e2e/harness"
)

// sonde is a collector with helpdesks configured and one enrolled,
// connected agent, driven through the sonde CLI as an L2 engineer.
type sonde struct {
	c       *harness.Collector
	agent   *harness.Proc
	agentID string
	env     []string // SONDE_URL and SONDE_TOKEN
	key     string
}

// startSonde writes helpdesks (YAML) into a fresh data dir, starts the
// collector with the helpdesks' secrets in its environment, and enrolls
// and starts an agent.
func startSonde(t *testing.T, helpdesks string, secrets map[string]string, args ...string) *sonde {
	t.Helper()
	for k, v := range secrets {
		t.Setenv(k, v) // the collector inherits them
	}
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "helpdesks.yaml"), []byte(helpdesks), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &sonde{c: &harness.Collector{Bin: bin, Data: data, QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t), Args: args}}
	s.c.Start(t)
	tok, pin := s.c.Token(t, 1)
	state := t.TempDir()
	harness.Run(t, filepath.Join(bin, "sonde-agent"), "enroll", "--state", state, "--collector", s.c.QUIC, "--token", tok, "--ca-pin", pin)
	s.agent = harness.Start(t, "", filepath.Join(bin, "sonde-agent"), "run", "--state", state)
	s.key = strings.TrimSpace(strings.SplitN(harness.Run(t, filepath.Join(bin, "sonde-collector"), "apikey", "create", "e2e", "--role", "l2", "--data", data), "\n", 2)[0])
	s.env = []string{"SONDE_URL=http://" + s.c.HTTP, "SONDE_TOKEN=" + s.key}
	harness.WaitFor(t, "the agent to be online", 20*time.Second, func() bool {
		var agents []struct {
			ID     string `json:"id"`
			Online bool   `json:"online"`
		}
		if s.get("/api/v1/agents", &agents) != nil || len(agents) != 1 || !agents[0].Online {
			return false
		}
		s.agentID = agents[0].ID
		return true
	})
	return s
}

// cli runs the sonde CLI and returns what it printed.
func (s *sonde) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "sonde"), args...)
	cmd.Env = append(os.Environ(), s.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sonde %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// get reads the API as the engineer.
func (s *sonde) get(path string, out any) error {
	req, _ := http.NewRequest("GET", "http://"+s.c.HTTP+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// ticket reads a ticket as the API shows it.
func (s *sonde) ticket(t *testing.T, ref string) api.TicketView {
	t.Helper()
	var v api.TicketView
	if err := s.get("/api/v1/tickets/"+ref, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// delivered waits until ref has steps steps in its outbox, all sent, and
// returns the ticket.
func (s *sonde) delivered(t *testing.T, ref string, steps int, patience time.Duration) api.TicketView {
	t.Helper()
	var v api.TicketView
	harness.WaitFor(t, fmt.Sprintf("%d steps of %s delivered", steps, ref), patience, func() bool {
		v = s.ticket(t, ref)
		sent := 0
		for _, d := range v.Deliveries {
			if d.State == "sent" {
				sent++
			}
		}
		return len(v.Deliveries) == steps && sent == steps
	})
	return v
}

// count is how many of texts contain s.
func count(texts []string, s string) int {
	n := 0
	for _, t := range texts {
		if strings.Contains(t, s) {
			n++
		}
	}
	return n
}

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestUnattendedEnrollment: an agent started by its service with an
// installer's enrollment file enrolls itself; a failure is logged and
// tried again with the settings read afresh, and once enrolled the file
// with its spent token is gone.
func TestUnattendedEnrollment(t *testing.T) {
	s := &sonde{data: t.TempDir(), state: filepath.Join(t.TempDir(), "agent"), quicAddr: harness.FreeAddr(t)}
	httpAddr := harness.FreeAddr(t)
	s.base = "http://" + httpAddr
	s.serveArgs = []string{"serve", "--data", s.data, "--quic", s.quicAddr, "--http", httpAddr}
	s.startCollector(t)
	var tok struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "sonde-collector", "token", "create", "--data", s.data, "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "enroll.env")
	settings := func(token string) []byte {
		return fmt.Appendf(nil, "# left by the installer\nSONDE_ENROLL_COLLECTOR=%s\nSONDE_ENROLL_TOKEN=%s\nSONDE_ENROLL_CA_PIN=%s\n", s.quicAddr, token, tok.Pin)
	}
	if err := os.WriteFile(file, settings("sonde_wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := start(t, "sonde-agent", "run", "--state", s.state, "--enroll-file", file)
	waitFor(t, "the failed enrollment to be logged", 30*time.Second, func() bool {
		return strings.Contains(agent.Output(), "enrolling with the installer's settings failed; trying again")
	})
	if err := os.WriteFile(file, settings(tok.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to enroll and connect", 30*time.Second, func() bool {
		return strings.Contains(agent.Output(), "connected to collector")
	})
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the enrollment file with its spent token is still there: %v", err)
	}
	if !strings.Contains(agent.Output(), "enrolled with the installer's settings") {
		t.Errorf("the agent did not say it enrolled:\n%s", agent.Output())
	}
}

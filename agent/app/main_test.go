package app

import (
	"context"
	"os"
	"testing"
)

// TestMain runs the agent's commands when the test binary is started as
// the agent (see runAs): the tests that need another user exec it.
func TestMain(m *testing.M) {
	if os.Getenv("SONDE_AGENT_TEST_MAIN") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

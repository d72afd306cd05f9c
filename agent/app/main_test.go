package app

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the agent's commands when the test binary is started as
// the agent (see runAs): the tests that need another user exec it.
// Otherwise it runs the tests, and fails them when they leave goroutines
// behind.
func TestMain(m *testing.M) {
	if os.Getenv("SONDE_AGENT_TEST_MAIN") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

package windows

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// cleanups run once the tests are done (packages_test.go removes the agent
// it built).
var cleanups []func()

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		for _, c := range cleanups {
			c()
		}
		os.Exit(code)
	}))
}

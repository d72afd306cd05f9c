//go:build helpdesk

package helpdesk

import (
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

// bin holds the binaries the flow tests run.
var bin string

// TestMain builds the binaries and fails the package's tests when they
// leave goroutines behind.
func TestMain(m *testing.M) { harness.Main(m, &bin) }

//go:build linux

package probe_test

import (
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestCPU(t *testing.T) {
	for _, dir := range cases(t, "cpu") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequence(t, probe.NewTestCPU, dir)
		})
	}
}

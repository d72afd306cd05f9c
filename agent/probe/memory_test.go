//go:build linux

package probe_test

import (
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestMemory(t *testing.T) {
	for _, dir := range cases(t, "memory") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequence(t, func() probe.Probe { return probe.NewTestMemory(4096) }, dir)
		})
	}
}

//go:build linux

package probe_test

import (
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
)

func TestProcesses(t *testing.T) {
	for _, dir := range cases(t, "processes") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			goldenSequence(t, func() probe.Probe { return probe.NewTestProcesses(5, 4096) }, dir)
		})
	}
}

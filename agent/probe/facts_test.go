//go:build linux

package probe_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

func TestReadFacts(t *testing.T) {
	for _, dir := range cases(t, "facts") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := probe.ReadFacts(probe.WithRoot(context.Background(), filepath.Join(dir, "root")))
			probetest.Compare(t, f, filepath.Join(dir, "expected.json"))
		})
	}
}

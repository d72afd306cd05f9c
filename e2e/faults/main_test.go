//go:build faults

// Package faults holds the long fault tests (`make test-faults`): the real
// binaries under kill -9, full disks and broken networks. They need root
// (mounts, network namespaces) and Debian's nftables.
package faults

import (
	"fmt"
	"os"
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sonde-faults-bin")
	if err != nil {
		panic(err)
	}
	if err := harness.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

//go:build faults

// Package faults holds the long fault tests (`make test-faults`): the real
// binaries under kill -9, full disks and broken networks. They need root
// (mounts, network namespaces) and Debian's nftables.
package faults

import (
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) { harness.Main(m, &bin) }

//go:build linux

// Package hostile runs the real agent against a collector that turns
// hostile: it holds the collector's CA and keys (or all but its request
// key) and uses the protocol package to ask for what a real collector never
// would. Each case checks that the agent's CPU, memory, disk use and
// receipts stay within their bounds, and that the agent goes back to the
// honest collector afterwards.
package hostile

import (
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) { harness.Main(m, &bin) }

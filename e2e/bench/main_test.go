//go:build bench

// Package bench measures what Sonde costs its users, with the real
// binaries and from outside the processes. `make bench-transport`
// (TestTransportFigures): the time an agent takes to connect where UDP is
// silently dropped and where it is not, the round trip of an on-demand
// snapshot over each transport, and the collector's memory per connected
// agent over each; it needs root (network namespaces), iproute2 and
// nftables. `make bench-agent` (TestAgentFigures): the agent's CPU and
// memory beside Debian's node_exporter; it needs root and
// prometheus-node-exporter. Each prints one table for BENCHMARKS.md and
// asserts only that its measurements happened as meant; neither has a
// timing threshold.
//
// Knobs (environment): TRANSPORT_STARTS (20 agent starts per transport),
// TRANSPORT_REQUESTS (100 on-demand requests per transport),
// TRANSPORT_CONNS (300 idle connections per memory round); the agent's
// are listed on TestAgentFigures.
package bench

import (
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) { harness.Main(m, &bin) }

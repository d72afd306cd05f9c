//go:build bench

// Package bench measures what Sonde's two transports cost their users,
// with the real binaries and from outside the processes
// (`make bench-transport`): the time an agent takes to connect where UDP
// is silently dropped and where it is not, the round trip of an on-demand
// snapshot over each, and the collector's memory per connected agent over
// each. It prints one table for BENCHMARKS.md and asserts only that each
// measurement went over the transport it was meant to; it has no timing
// threshold. It needs root (network namespaces), iproute2 and nftables.
//
// Knobs (environment): TRANSPORT_STARTS (20 agent starts per transport),
// TRANSPORT_REQUESTS (100 on-demand requests per transport),
// TRANSPORT_CONNS (300 idle connections per memory round).
package bench

import (
	"testing"

	"github.com/sondehq/sonde/e2e/harness"
)

var bin string // folder with the binaries, built once

func TestMain(m *testing.M) { harness.Main(m, &bin) }

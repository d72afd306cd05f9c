package client

import (
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
)

// The agent's memory has a ceiling of its own (MemoryCeiling: memory the
// Go runtime holds from the system; `sonde-agent run` sets 100 MiB by
// default, and tells the garbage collector, which then works harder as
// memory nears it; the agent itself lives in about 10). An on-demand
// snapshot that leaves the agent above it is dropped, its memory given back, and the drop counted
// (Delivery.MemoryDrops) and said to the collector; and if the agent stays
// above it with nothing asked (a leak), Run ends with ErrMemoryCeiling so
// that the service manager starts it afresh, which the next start reports
// (Client.RestartedFor).

// DefaultMemoryCeiling is the memory ceiling when none is set.
const DefaultMemoryCeiling = 100 << 20

// ErrMemoryCeiling ends Run when the agent's memory stays above its
// ceiling after giving back all it can.
var ErrMemoryCeiling = errors.New("the agent's memory stays above its ceiling")

// memoryInUse is the memory the Go runtime holds from the system and has
// not given back: about the agent's anonymous resident memory.
func memoryInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// overCeiling reports whether the agent holds more memory than its
// ceiling once it has given back what it does not use; the figures are in
// the error. Without a ceiling it is never over.
func (c *Client) overCeiling() error {
	if c.MemoryCeiling == 0 || memoryInUse() <= c.MemoryCeiling {
		return nil
	}
	debug.FreeOSMemory() // a collection, and back to the system
	if in := memoryInUse(); in > c.MemoryCeiling {
		return fmt.Errorf("%w: %d MiB in use, ceiling %d MiB", ErrMemoryCeiling, in>>20, c.MemoryCeiling>>20)
	}
	return nil
}

package probe

import "github.com/sondehq/sonde/protocol"

// ScrubCounts returns what Scrub removed in this Env, by rule, as a probe
// result carries it.
func (e *Env) ScrubCounts() []protocol.Scrub { return e.scrubbed() }

package ingest

import "time"

// What the tests of package ingest_test need of the package's insides.

// The production times the liveness tests scale (liveness.go).
const (
	IdleTimeout = idleTimeout
	SilentAfter = silentAfter
	HeardTick   = heardTick
)

// SpeedUpLiveness makes the Server that c configures keep every liveness
// time (its idle timeout offer, silentAfter, heardTick, minAnswerWait,
// answerPoll, and the probe timeouts of answerWait) n times shorter than
// production's: their proportions, to each other and to agents whose
// keep-alive and idle timeout are divided by n as well, are production's,
// and the liveness tests wait seconds instead of a minute.
func SpeedUpLiveness(c *Config, n int) {
	p, d := productionLiveness, time.Duration(n)
	c.live = liveness{idle: p.idle / d, silentAfter: p.silentAfter / d, heardTick: p.heardTick / d,
		minAnswerWait: p.minAnswerWait / d, answerPoll: p.answerPoll / d, ptoDiv: p.ptoDiv * d}
}

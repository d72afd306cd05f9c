package redact

import (
	"strings"
	"testing"
	"time"
)

// This file sorts after the other tests on purpose: the guard below takes
// seconds, and a run that stops at the first failure (go test -failfast,
// as mutation testing runs it) should not wait for it.

// TestDenseCandidatesStayLinear guards against quadratic matching: many
// name-like candidates without secrets must not each cost a scan of the rest
// of the text. Four times the input may cost at most ten times the time
// (quadratic would be sixteen); the best of three runs damps noise. Both
// sizes are above the input length where Go's regexp switches engines.
func TestDenseCandidatesStayLinear(t *testing.T) {
	best := func(s string) time.Duration {
		d := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			New(Options{Pseudonymize: true}).Text(s)
			d = min(d, time.Since(start))
		}
		return d
	}
	for _, unit := range []string{"a:", "?a=b", "--a b ", "A=b;", `a:"`, `a:\"`} {
		small := best(strings.Repeat(unit, 32000/len(unit)))
		large := best(strings.Repeat(unit, 128000/len(unit)))
		if large > 10*small {
			t.Errorf("%q: 32 kB took %v, 128 kB took %v", unit, small, large)
		}
	}
}

package app

import (
	"os"
	"runtime"
)

// oneProcessor runs the agent's Go code on one processor (GOMAXPROCS=1)
// unless GOMAXPROCS is set in its environment. Its work is a few probes at
// a time, mostly in system calls, which leave the processor to other
// goroutines meanwhile; with one processor per core, every goroutine made
// ready also wakes a thread to look for work on an idle one. Measured on
// the 2-core test machine (BENCHMARKS.md, "One processor"), that was a
// fifth of the CPU of a health sample; it also keeps the agent to one
// core of Go code under any load.
func oneProcessor() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

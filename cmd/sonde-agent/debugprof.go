//go:build sondedebug && unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

// A build for looking into the memory of a running agent, off unless
// built for it (`go build -tags sondedebug ./cmd/sonde-agent`): the agent
// has no HTTP server to serve pprof from, and runtime/pprof would add its
// size to every agent. SIGUSR1 writes the heap, allocs and goroutine
// profiles and the runtime's metrics (runtime/metrics: the heap's classes,
// stacks, the runtime's own) into $SONDE_DEBUG_DIR, the temporary folder
// without it; SIGUSR2 the same after a garbage collection. With
// SONDE_DEBUG_MEMPROFILE set, allocations are sampled every KiB instead of
// every 512 KiB (which itself adds a few MB of profiling records).
func init() {
	if os.Getenv("SONDE_DEBUG_MEMPROFILE") != "" {
		runtime.MemProfileRate = 1024 // every allocation of note, for the heap profile
	}
	dir := os.Getenv("SONDE_DEBUG_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for sig := range c {
			if sig == syscall.SIGUSR2 {
				runtime.GC()
			}
			if err := writeProfiles(dir, time.Now().Format("150405.000")); err != nil {
				fmt.Fprintln(os.Stderr, "sondedebug:", err)
			}
		}
	}()
}

func writeProfiles(dir, stamp string) error {
	for _, name := range []string{"heap", "goroutine", "allocs"} {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent-%d-%s.%s.pprof", os.Getpid(), stamp, name)))
		if err != nil {
			return err
		}
		err = pprof.Lookup(name).WriteTo(f, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent-%d-%s.metrics.txt", os.Getpid(), stamp)))
	if err != nil {
		return err
	}
	defer f.Close()
	descs := metrics.All()
	samples := make([]metrics.Sample, len(descs))
	for i := range descs {
		samples[i].Name = descs[i].Name
	}
	metrics.Read(samples)
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			fmt.Fprintf(f, "%s %d\n", s.Name, s.Value.Uint64())
		case metrics.KindFloat64:
			fmt.Fprintf(f, "%s %g\n", s.Name, s.Value.Float64())
		}
	}
	return nil
}

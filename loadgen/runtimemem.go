package loadgen

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RuntimeMem is the collector's Go runtime memory as its --pprof endpoint
// gives it (runtime.MemStats at the end of /debug/pprof/heap?debug=1, and
// the goroutine count), read right after its RSS: where the RSS goes.
type RuntimeMem struct {
	HeapInuse    uint64 // spans holding objects, live or not yet swept
	HeapAlloc    uint64 // bytes of objects allocated and not yet freed
	HeapIdle     uint64 // spans free in the heap
	HeapReleased uint64 // of HeapIdle, returned to the kernel
	StackInuse   uint64 // goroutine stacks
	Sys          uint64 // all the runtime took from the kernel
	NextGC       uint64 // the heap size the next collection aims at
	NumGC        uint64
	Goroutines   int
}

// Kept is heap memory neither in use nor given back: RSS the collector
// holds for the heap to grow into.
func (m *RuntimeMem) Kept() uint64 { return m.HeapIdle - m.HeapReleased }

// Other is what the runtime holds besides the heap and stacks (span and GC
// metadata, caches, profiling buckets).
func (m *RuntimeMem) Other() uint64 {
	return m.Sys - (m.HeapInuse + m.HeapIdle) - m.StackInuse
}

// parseRuntimeMem reads the "# Name = value" lines of a text heap profile
// and the "goroutine profile: total N" head of a text goroutine profile.
func parseRuntimeMem(heap, goroutines []byte) (*RuntimeMem, error) {
	m := &RuntimeMem{}
	fields := map[string]*uint64{"HeapInuse": &m.HeapInuse, "HeapAlloc": &m.HeapAlloc, "HeapIdle": &m.HeapIdle,
		"HeapReleased": &m.HeapReleased, "Sys": &m.Sys, "NextGC": &m.NextGC, "NumGC": &m.NumGC, "Stack": &m.StackInuse}
	found := 0
	for line := range strings.Lines(string(heap)) {
		name, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "# "), " = ")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		// Stack is "inuse / sys".
		value, _, _ = strings.Cut(value, " ")
		v, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("runtime memory: %s: %w", name, err)
		}
		*dst = v
		found++
	}
	if found != len(fields) {
		return nil, fmt.Errorf("runtime memory: %d of the %d MemStats figures found", found, len(fields))
	}
	head, _, _ := strings.Cut(string(goroutines), "\n")
	n, ok := strings.CutPrefix(head, "goroutine profile: total ")
	if !ok {
		return nil, errors.New("runtime memory: not a text goroutine profile")
	}
	var err error
	if m.Goroutines, err = strconv.Atoi(n); err != nil {
		return nil, fmt.Errorf("runtime memory: goroutines: %w", err)
	}
	return m, nil
}

// print writes m, with per-agent shares of n agents.
func (m *RuntimeMem) print(w io.Writer, n int) {
	per := func(b uint64) string {
		return fmt.Sprintf("%.1f MB (%.1f KB an agent)", float64(b)/1e6, float64(b)/1e3/float64(n))
	}
	fmt.Fprintf(w, "  Go heap in use        %s; objects %s; next collection at %.1f MB (GC %d)\n",
		per(m.HeapInuse), per(m.HeapAlloc), float64(m.NextGC)/1e6, m.NumGC)
	fmt.Fprintf(w, "  Go heap idle, kept    %s (%.1f MB given back)\n", per(m.Kept()), float64(m.HeapReleased)/1e6)
	fmt.Fprintf(w, "  goroutine stacks      %s; %d goroutines (%.2f an agent)\n", per(m.StackInuse), m.Goroutines, float64(m.Goroutines)/float64(n))
	fmt.Fprintf(w, "  runtime, other        %s\n", per(m.Other()))
}

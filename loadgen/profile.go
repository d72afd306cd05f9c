package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiler takes CPU profiles of the collector through its --pprof
// address, one per phase, into dir.
type profiler struct {
	addr   string // host:port of the collector's --pprof
	dir    string
	length time.Duration
	log    func(format string, args ...any)
}

// maxProfile bounds a profile file.
const maxProfile = 64 << 20

// start begins a CPU profile of length for phase; the function it returns
// waits for it to be written.
func (p *profiler) start(ctx context.Context, phase string) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(p.dir, "collector-cpu-"+phase+".pprof")
		if err := p.fetch(ctx, fmt.Sprintf("profile?seconds=%d", int(p.length.Seconds())), path); err != nil {
			p.log("profile of %s not taken: %v", phase, err)
			return
		}
		p.log("CPU profile of the collector during %s: %s (go tool pprof -top %s)", phase, path, path)
	}()
	return func() { <-done }
}

// heap takes, for phase, a heap profile (after a collection), the
// goroutines grouped by stack, and the Go runtime's memory figures (the
// text form of the heap profile, which ends with runtime.MemStats), and
// returns the figures; nil when they could not be read.
func (p *profiler) heap(ctx context.Context, phase string) *RuntimeMem {
	// The figures first, so that they are those of the RSS just read, not
	// of the collection the heap profile forces.
	stats, err := p.fetchText(ctx, "heap?debug=1", filepath.Join(p.dir, "collector-memstats-"+phase+".txt"))
	if err != nil {
		p.log("memory figures at %s not read: %v", phase, err)
		return nil
	}
	gpath := filepath.Join(p.dir, "collector-goroutines-"+phase+".txt")
	goroutines, err := p.fetchText(ctx, "goroutine?debug=1", gpath)
	if err != nil {
		p.log("goroutines at %s not read: %v", phase, err)
		return nil
	}
	p.log("goroutines of the collector at %s, by stack: %s", phase, gpath)
	path := filepath.Join(p.dir, "collector-heap-"+phase+".pprof")
	if err := p.fetch(ctx, "heap?gc=1", path); err != nil {
		p.log("heap profile at %s not taken: %v", phase, err)
	} else {
		p.log("heap profile of the collector at %s: %s (go tool pprof -sample_index=inuse_space -top %s)", phase, path, path)
	}
	m, err := parseRuntimeMem(stats, goroutines)
	if err != nil {
		p.log("memory figures at %s not read: %v", phase, err)
		return nil
	}
	return m
}

// fetchText fetches what into path and returns it.
func (p *profiler) fetchText(ctx context.Context, what, path string) ([]byte, error) {
	if err := p.fetch(ctx, what, path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profiling: %w", err)
	}
	return b, nil
}

func (p *profiler) fetch(ctx context.Context, what, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s", p.addr, what)
	ctx, cancel := context.WithTimeout(ctx, p.length+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling: %s answered %s", url, resp.Status)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, maxProfile)); err != nil {
		f.Close()
		return fmt.Errorf("profiling: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("profiling: writing %s: %w", path, err)
	}
	return nil
}

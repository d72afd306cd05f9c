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

// heap takes a heap profile (after a collection) for phase, and waits for
// it.
func (p *profiler) heap(ctx context.Context, phase string) {
	path := filepath.Join(p.dir, "collector-heap-"+phase+".pprof")
	if err := p.fetch(ctx, "heap?gc=1", path); err != nil {
		p.log("heap profile at %s not taken: %v", phase, err)
		return
	}
	p.log("heap profile of the collector at %s: %s (go tool pprof -sample_index=inuse_space -top %s)", phase, path, path)
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

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// BenchConfig is `sonde-loadgen bench`: the scenarios of `make
// bench-collector` against a collector it runs from the tree's binary.
type BenchConfig struct {
	CollectorBin string
	// Dir holds the collector's data and the identity cache; "" is a
	// temporary folder removed afterwards. Keep one to reuse the
	// identities (and the collector's CA and database) on the next run.
	Dir            string
	Small, Large   int // the two fleets: default 1,000 and 10,000
	PerSocket      int
	HealthInterval time.Duration
	OnDemand       OnDemandConfig // Rate, Count, Concurrency, Timeout
	IngestSenders  int
	IngestWarmup   time.Duration
	IngestWindow   time.Duration
	Settle         time.Duration
	// IngestOnly runs the first scenario's ingest burst and the raw
	// ceiling beside it, and nothing else (no on-demand, no second
	// fleet): the loop for working on the ingest path.
	IngestOnly bool
	// ProfileDir, when set, runs the collector with --pprof and keeps a
	// CPU profile of it, ProfileLength long, taken as the ingest burst
	// begins and as the restarted collector is ready in the storm.
	ProfileDir    string
	ProfileLength time.Duration
	// Memory runs the second scenario's connect and memory reading alone
	// (no first fleet, no storm): what to iterate on for memory. With
	// ProfileDir, the heap profile and the runtime's figures are taken
	// with every agent connected.
	Memory bool
	Log    io.Writer
}

// BenchResult is both scenarios and the machine they ran on.
type BenchResult struct {
	Small, Large          *Report
	LoadBefore, LoadAfter string
	CPUs                  int
	RMem, WMem            int64
	BuffersSet            bool
}

// Bench runs the two scenarios: Small agents (connect, memory, on-demand
// round trips, the ingest burst and the raw ceiling beside it), then, on a
// restarted collector, Large agents (connect, memory, the reconnect storm
// of a collector restart). IngestOnly stops after the ingest burst and
// the raw ceiling; with Memory, only Large's connect and memory.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	res := &BenchResult{LoadBefore: LoadAvg(), CPUs: runtime.NumCPU()}
	res.RMem, res.WMem, res.BuffersSet, _ = UDPBuffers()
	if cfg.Small <= 0 || cfg.Large <= 0 {
		return nil, errors.New("bench: the fleets need a positive size")
	}
	dir := cfg.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "sonde-bench-collector")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	col := &LocalCollector{Bin: cfg.CollectorBin, Data: filepath.Join(dir, "collector")}
	log := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	var prof *profiler
	if cfg.ProfileDir != "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		prof = &profiler{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: cfg.ProfileDir, length: orDefault(cfg.ProfileLength, 15*time.Second), log: log}
		col.Args = append(col.Args, "--pprof", prof.addr)
	}
	if err := col.Start(ctx); err != nil {
		return nil, err
	}
	defer col.Stop()
	log("collector %s serving QUIC on %s, HTTP on %s, data in %s", col.Bin, col.QUIC, col.HTTP, col.Data)
	uses := cfg.Large
	if !cfg.Memory {
		uses = max(cfg.Small, cfg.Large)
	}
	token, pin, err := col.Token(ctx, uses)
	if err != nil {
		return nil, err
	}
	key, err := col.APIKey(ctx)
	if err != nil {
		return nil, err
	}
	base := Config{Collector: col.QUIC, API: "http://" + col.HTTP, APIKey: key, Token: token, Pin: pin,
		CacheDir: filepath.Join(dir, "identities"), PerSocket: cfg.PerSocket, HealthInterval: cfg.HealthInterval,
		Settle: cfg.Settle, Log: cfg.Log}
	if prof != nil {
		base.Profile = prof.start
		base.Heap = prof.heap
	}

	if !cfg.Memory {
		small := base
		small.Agents, small.PID = cfg.Small, col.PID()
		if !cfg.IngestOnly {
			small.OnDemand = cfg.OnDemand
		}
		small.IngestKind, small.IngestSenders, small.IngestWarmup, small.IngestWindow = protocol.KindHealth, cfg.IngestSenders, cfg.IngestWarmup, cfg.IngestWindow
		small.Raw = true
		log("scenario 1: %d agents", cfg.Small)
		if res.Small, err = Run(ctx, small); err != nil {
			return res, fmt.Errorf("bench, %d agents: %w", cfg.Small, err)
		}
		if cfg.IngestOnly {
			res.LoadAfter = LoadAvg()
			return res, nil
		}
		// A fresh process, so the second fleet's memory is its own.
		if _, err := col.Restart(ctx); err != nil {
			return res, err
		}
	}
	large := base
	large.Agents, large.PID = cfg.Large, col.PID()
	if !cfg.Memory {
		large.Storm, large.Restart, large.StormWait = "restart", col.Restart, 5*time.Minute
	}
	log("scenario 2: %d agents", cfg.Large)
	if res.Large, err = Run(ctx, large); err != nil {
		return res, fmt.Errorf("bench, %d agents: %w", cfg.Large, err)
	}
	res.LoadAfter = LoadAvg()
	return res, nil
}

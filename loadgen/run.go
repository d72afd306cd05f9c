package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Config is one loadgen run against a running collector.
type Config struct {
	Collector string // QUIC host:port
	API       string // the collector's HTTP base URL, for on-demand and /metrics; "" skips them
	APIKey    string // role l2 or above, for on-demand
	Token     string // enrollment token for identities not cached
	Pin       string // the collector's CA pin
	CacheDir  string // identity cache
	Agents    int
	PerSocket int
	// HealthInterval, DialConcurrency: see FleetConfig.
	HealthInterval  time.Duration
	DialConcurrency int
	EnrollRate      int
	PID             int           // the collector's; 0 looks for the one process named sonde-collector
	ConnectWait     time.Duration // how long all agents may take to connect; default 5 min
	Settle          time.Duration // after all connected, before memory is read; default 10 s

	OnDemand OnDemandConfig // Count 0 skips on-demand (API and Key are filled from above)

	IngestKind    protocol.Kind // 0 skips the ingest burst
	IngestSenders int
	IngestWarmup  time.Duration
	IngestWindow  time.Duration
	Raw           bool // also the raw QUIC ceiling, same message, same senders

	// Storm: "" none, "drop" (every connection closed from the agents'
	// side at once), "restart" (Restart is called).
	Storm     string
	StormWait time.Duration // how long all may take to come back; default 2 min
	// Restart restarts the collector (the bench's, which it started) and
	// returns its new PID.
	Restart func(context.Context) (int, error)
	Hold    time.Duration // keep the fleet running this long at the end (health snapshots)
	// Profile, when set, is called as the ingest burst and the storm
	// begin, with the phase's name; the function it returns is called
	// when the phase is over (bench.go: a CPU profile of the collector).
	Profile func(ctx context.Context, phase string) (done func())
	// Heap, when set, is called once the collector's memory with every
	// agent connected has been read (bench.go: a heap profile of it, and
	// the runtime's figures it returns).
	Heap func(ctx context.Context, phase string) *RuntimeMem

	Log io.Writer // progress; nil for none
}

// Report is what a run measured.
type Report struct {
	Agents, Sockets   int
	Enrolled          int // identities enrolled in this run (the rest came from the cache)
	EnrollTime        time.Duration
	ConnectTime       time.Duration // Start to all connected
	CollectorSees     float64       // sonde_agents_connected, -1 unknown
	RSSBefore         int64         // the collector's, before the fleet connected
	RSSConnected      int64         // after all connected and Settle
	Runtime           *RuntimeMem   // the Go runtime's figures then, when Heap gave them
	CollectorCPUIdle  float64       // cores, over Settle with all connected
	OnDemand          *OnDemandResult
	Ingest            *BurstResult
	Raw               *RawResult
	Storm             *StormResult
	HealthAcked       int64
	HealthSkipped     int64
	Busy              int64
	Answered, Refused int64
	Errors            []Count
	Took              time.Duration
}

// StormResult is what the reconnect storm measured.
type StormResult struct {
	How       string
	Dropped   int           // connections up when it began
	Back      time.Duration // from the drop (or the restart's start) to all back
	Restarted time.Duration // restart only: until the collector answered again
	// Half, Most and Nearly are when 50%, 90% and 99% of them had
	// connected again: the tail after them is agents in backoff.
	Half, Most, Nearly time.Duration
	AllBack            bool
}

// RSSPerAgent is the collector's RSS divided by the agents connected.
func (r *Report) RSSPerAgent() float64 {
	if r.Agents == 0 {
		return 0
	}
	return float64(r.RSSConnected) / float64(r.Agents)
}

// RSSPerAgentAdded is the RSS the agents added, per agent.
func (r *Report) RSSPerAgentAdded() float64 {
	if r.Agents == 0 {
		return 0
	}
	return float64(r.RSSConnected-r.RSSBefore) / float64(r.Agents)
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// Run runs the scenario cfg describes and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	begun := time.Now()
	if cfg.Agents <= 0 {
		return nil, fmt.Errorf("want a positive number of agents, not %d", cfg.Agents)
	}
	cfg.ConnectWait = orDefault(cfg.ConnectWait, 5*time.Minute)
	cfg.Settle = orDefault(cfg.Settle, 10*time.Second)
	cfg.StormWait = orDefault(cfg.StormWait, 2*time.Minute)
	rec, err := LoadRecorded()
	if err != nil {
		return nil, err
	}
	proc := Process{PID: cfg.PID}
	if proc.PID == 0 {
		if proc, err = FindProcess("sonde-collector"); err != nil {
			return nil, err
		}
	}
	r := &Report{Agents: cfg.Agents, CollectorSees: -1}

	start := time.Now()
	ids, enrolled, err := LoadOrEnroll(ctx, Enrollment{Dir: cfg.CacheDir, Collector: cfg.Collector, Pin: cfg.Pin, Token: cfg.Token,
		N: cfg.Agents, Rate: cfg.EnrollRate, Facts: rec.Facts,
		Progress: func(done, total int) { cfg.logf("enrolled %d of %d", done, total) }})
	if err != nil {
		return nil, err
	}
	r.Enrolled, r.EnrollTime = enrolled, time.Since(start)
	cfg.logf("%d identities ready (%d enrolled now, in %s)", len(ids), enrolled, r.EnrollTime.Round(time.Second))

	if r.RSSBefore, err = proc.RSS(); err != nil {
		return nil, err
	}
	f, err := NewFleet(FleetConfig{Collector: cfg.Collector, PerSocket: cfg.PerSocket, HealthInterval: cfg.HealthInterval,
		DialConcurrency: cfg.DialConcurrency, Recorded: rec}, ids)
	if err != nil {
		return nil, err
	}
	r.Sockets = f.Sockets()
	f.Start(ctx)
	defer f.Close()
	if r.ConnectTime, err = f.WaitConnected(ctx, cfg.Agents, cfg.ConnectWait); err != nil {
		return r, fmt.Errorf("connecting the fleet: %w (errors: %v)", err, f.errs.top())
	}
	cfg.logf("%d agents connected over %d sockets in %s", cfg.Agents, r.Sockets, r.ConnectTime.Round(time.Millisecond))
	cpu0, err := proc.CPU()
	if err != nil {
		return r, err
	}
	sleep(ctx, nil, cfg.Settle)
	cpu1, err := proc.CPU()
	if err != nil {
		return r, err
	}
	r.CollectorCPUIdle = (cpu1 - cpu0).Seconds() / cfg.Settle.Seconds()
	if r.RSSConnected, err = proc.RSS(); err != nil {
		return r, err
	}
	if cfg.API != "" {
		r.CollectorSees = scrapeConnected(ctx, cfg.API)
	}
	if cfg.Heap != nil {
		r.Runtime = cfg.Heap(ctx, fmt.Sprintf("%d-connected", cfg.Agents))
	}
	cfg.logf("collector RSS %.1f MB before, %.1f MB with %d agents: %.1f KB an agent (%.1f KB added an agent)",
		float64(r.RSSBefore)/1e6, float64(r.RSSConnected)/1e6, cfg.Agents, r.RSSPerAgent()/1e3, r.RSSPerAgentAdded()/1e3)

	if cfg.OnDemand.Count > 0 {
		od := cfg.OnDemand
		od.API, od.Key = cfg.API, cfg.APIKey
		res, err := OnDemand(ctx, od, f.IDs())
		if err != nil {
			return r, err
		}
		r.OnDemand = &res
		cfg.logf("on-demand: %d ok, %d rate-limited, %d not sent: %s", res.OK, res.RateLimited, res.NotSent, res.Latency)
	}
	if cfg.IngestKind != 0 {
		done := cfg.profile(ctx, "ingest")
		self := Process{PID: os.Getpid()}
		col0, err := proc.CPU()
		if err != nil {
			return r, err
		}
		own0, err := self.CPU()
		if err != nil {
			return r, err
		}
		res, err := f.Burst(ctx, cfg.IngestKind, max(cfg.IngestSenders, 1), cfg.IngestWarmup, orDefault(cfg.IngestWindow, 10*time.Second))
		if err != nil {
			return r, err
		}
		col1, err := proc.CPU()
		if err != nil {
			return r, err
		}
		own1, err := self.CPU()
		if err != nil {
			return r, err
		}
		res.CollectorCPU, res.LoadgenCPU = col1-col0, own1-own0
		done()
		r.Ingest = &res
		cfg.logf("ingest (%s, %d B, %d senders): %.0f acked/s, %d busy, %d failed; %s", cfg.IngestKind, res.WireSize, res.Senders,
			res.Rate, res.Busy, res.Failed, res.Latency)
		if cfg.Raw {
			raw, err := rawLike(ctx, rec, cfg.IngestKind, res.Senders, cfg.PerSocket, cfg.IngestWarmup, res.Window)
			if err != nil {
				return r, err
			}
			r.Raw = &raw
			cfg.logf("raw QUIC ceiling (%d connections): %.0f acked/s; %s", raw.Conns, raw.Rate, raw.Latency)
		}
	}
	if cfg.Storm != "" {
		st, newPID, err := storm(ctx, &cfg, f)
		r.Storm = st
		if err != nil {
			return r, err
		}
		if newPID != 0 {
			proc.PID = newPID
		}
		cfg.logf("reconnect storm (%s): %d dropped, all back in %s", st.How, st.Dropped, st.Back.Round(time.Millisecond))
	}
	sleep(ctx, nil, cfg.Hold)
	r.HealthAcked, r.HealthSkipped, r.Busy = f.healthAck.Load(), f.skipped.Load(), f.busy.Load()
	r.Answered, r.Refused, r.Errors = f.answered.Load(), f.refused.Load(), f.errs.top()
	r.Took = time.Since(begun)
	return r, nil
}

// rawLike runs the raw ceiling with the burst's message, ack and senders.
func rawLike(ctx context.Context, rec *Recorded, kind protocol.Kind, conns, perSocket int, warmup, window time.Duration) (RawResult, error) {
	msg, err := rec.Frame(kind)
	if err != nil {
		return RawResult{}, err
	}
	var ack strings.Builder
	if err := protocol.Write(&ack, &protocol.Ack{AgentID: "0123456789abcdef0123", BootEpoch: 1700000000000, Seq: 1}); err != nil {
		return RawResult{}, fmt.Errorf("encoding an ack: %w", err)
	}
	return RawCeiling(ctx, RawConfig{Message: msg, Ack: []byte(ack.String()), Conns: conns, PerSocket: perSocket, Warmup: warmup, Window: window})
}

// storm drops every connection, or restarts the collector, and measures
// until every agent has connected again.
func storm(ctx context.Context, cfg *Config, f *Fleet) (*StormResult, int, error) {
	st := &StormResult{How: cfg.Storm, Dropped: f.Connected()}
	before := f.connects.Load()
	start := time.Now()
	var pid int
	switch cfg.Storm {
	case "drop":
		f.Drop()
	case "restart":
		if cfg.Restart == nil {
			return st, 0, errors.New("storm: restart needs a collector this run started")
		}
		var err error
		if pid, err = cfg.Restart(ctx); err != nil {
			return st, 0, fmt.Errorf("storm: restarting the collector: %w", err)
		}
		st.Restarted = time.Since(start)
		done := cfg.profile(ctx, "reconnect-storm")
		defer done()
	default:
		return st, 0, fmt.Errorf("storm: %q is not drop or restart", cfg.Storm)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	marks := []struct {
		frac float64
		at   *time.Duration
	}{{0.5, &st.Half}, {0.9, &st.Most}, {0.99, &st.Nearly}}
	for {
		back := f.connects.Load() - before
		for _, m := range marks {
			if *m.at == 0 && float64(back) >= m.frac*float64(st.Dropped) {
				*m.at = time.Since(start)
			}
		}
		if back >= int64(st.Dropped) && f.Connected() >= cfg.Agents {
			break
		}
		if time.Since(start) > cfg.StormWait {
			st.Back = time.Since(start)
			return st, pid, fmt.Errorf("storm: %d of %d agents back after %s (errors: %v)", f.Connected(), cfg.Agents, cfg.StormWait, f.errs.top())
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return st, pid, fmt.Errorf("storm: %w", ctx.Err())
		}
	}
	st.Back, st.AllBack = time.Since(start), true
	return st, pid, nil
}

// scrapeConnected reads sonde_agents_connected (all transports) from the
// collector's /metrics; -1 when it cannot.
func scrapeConnected(ctx context.Context, api string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(api, "/")+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sonde_agents_connected") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// profile starts cfg.Profile for phase, if set.
func (c *Config) profile(ctx context.Context, phase string) (done func()) {
	if c.Profile == nil {
		return func() {}
	}
	return c.Profile(ctx, phase)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/protocol"
)

const usage = `usage: sonde-loadgen run --collector HOST:PORT --pin sha256:... [--token T] [flags]
       sonde-loadgen bench --collector-bin bin/sonde-collector [flags]

run simulates --agents agents against a running collector: it enrolls them
with the token (or reuses the identities cached in --cache for that
collector), connects them, reads the collector's memory from /proc, and runs
the phases asked for: on-demand round trips through the API (--api, --key),
an ingest burst (--ingest health|full, with --raw for the raw QUIC ceiling),
a reconnect storm (--storm drop).

bench is make bench-collector: it runs a collector from the given binary on
loopback and both scenarios against it (1,000 agents: connect, memory,
on-demand, ingest against raw QUIC; 10,000 agents: connect, memory, a
collector restart), and prints the targets table. With --ingest-only it runs the first fleet's
ingest burst and the raw QUIC ceiling beside it, and nothing else; with --memory only the second
scenario's connect and memory reading, to iterate on memory.

sonde-loadgen COMMAND -h lists a command's flags.
`

// Main is sonde-loadgen's command line; it returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		err = benchCommand(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("unknown command %q: %w", args[0], cliflag.ErrUsage)
	}
	return cliflag.ExitCode(err, "sonde-loadgen", usage, stderr)
}

// Bounds on what the flags may ask, so a typo cannot take the machine.
const (
	maxAgents      = 100_000
	maxPerSocket   = 5_000
	maxPhase       = time.Hour
	minHealthEvery = time.Second
)

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("run", "sonde-loadgen run --collector HOST:PORT --pin sha256:... [--token T] [flags]", stderr)
	var c Config
	fs.StringVar(&c.Collector, "collector", "", "the collector's QUIC `address` (HOST:PORT)")
	fs.StringVar(&c.Pin, "pin", "", "the collector's CA pin (sha256:..., from token create)")
	fs.StringVar(&c.Token, "token", os.Getenv("SONDE_LOADGEN_TOKEN"), "enrollment `token` for identities not cached (sonde-collector token create --uses N); default $SONDE_LOADGEN_TOKEN")
	fs.StringVar(&c.CacheDir, "cache", "sonde-loadgen-identities", "identity cache `dir` (one state dir per agent, under the collector's CA pin)")
	fs.IntVar(&c.Agents, "agents", 100, "simulated agents")
	fs.IntVar(&c.PerSocket, "per-socket", 250, "agents sharing one UDP socket")
	fs.DurationVar(&c.HealthInterval, "health-interval", 60*time.Second, "health snapshot period of each agent (the collector's, if it sets one, wins, as for agents)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 512, "handshakes under way at most")
	fs.IntVar(&c.EnrollRate, "enroll-rate", 40, "enrollments a second (the collector answers CA discovery at 50/s after a burst of 200)")
	fs.IntVar(&c.PID, "collector-pid", 0, "the collector's process ID, for its memory and CPU (default: the one process named sonde-collector)")
	fs.DurationVar(&c.ConnectWait, "connect-wait", 5*time.Minute, "how long all agents may take to connect")
	fs.DurationVar(&c.Settle, "settle", 10*time.Second, "wait with every agent connected before reading the collector's memory")
	fs.StringVar(&c.API, "api", "", "the collector's HTTP base `URL` (http://127.0.0.1:7080), for on-demand and /metrics")
	fs.StringVar(&c.APIKey, "key", os.Getenv("SONDE_TOKEN"), "API `key` with role l2, for on-demand; default $SONDE_TOKEN")
	fs.IntVar(&c.OnDemand.Count, "ondemand", 0, "on-demand requests to send (0: none)")
	fs.Float64Var(&c.OnDemand.Rate, "ondemand-rate", 10, "on-demand requests a second (the API allows 20 a second per key)")
	fs.IntVar(&c.OnDemand.Concurrency, "ondemand-concurrency", 32, "on-demand requests under way at most")
	ingest := fs.String("ingest", "", "ingest burst with health or full snapshots (\"\": none)")
	fs.IntVar(&c.IngestSenders, "ingest-senders", 64, "agents sending back to back in the burst (the collector stores 64 at once by default)")
	fs.DurationVar(&c.IngestWarmup, "ingest-warmup", 3*time.Second, "burst time not counted")
	fs.DurationVar(&c.IngestWindow, "ingest-window", 15*time.Second, "burst time counted")
	fs.BoolVar(&c.Raw, "raw", false, "with --ingest, also measure the raw QUIC ceiling for the same message and senders")
	fs.StringVar(&c.Storm, "storm", "", "reconnect storm: drop (close every connection at once; \"\": none)")
	fs.DurationVar(&c.StormWait, "storm-wait", 2*time.Minute, "how long all may take to come back")
	fs.DurationVar(&c.Hold, "hold", 0, "keep the fleet connected this long at the end")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if rest, err := cliflag.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("run: unexpected argument %q", rest[0])
	}
	switch *ingest {
	case "":
	case "health":
		c.IngestKind = protocol.KindHealth
	case "full":
		c.IngestKind = protocol.KindFull
	default:
		return fmt.Errorf("run: --ingest must be health or full, not %q", *ingest)
	}
	if err := checkRun(&c); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	c.Log = stderr
	r, err := Run(ctx, c)
	if r != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(r); jerr != nil {
				return errors.Join(err, fmt.Errorf("writing the report: %w", jerr))
			}
		} else {
			r.Print(stdout)
		}
	}
	return err
}

// checkRun refuses what run cannot do or should not try.
func checkRun(c *Config) error {
	switch {
	case c.Collector == "":
		return errors.New("--collector HOST:PORT is required")
	case c.Pin == "":
		return errors.New("--pin is required (sonde-collector token create prints it)")
	case c.Agents < 1 || c.Agents > maxAgents:
		return fmt.Errorf("--agents must be 1 to %d", maxAgents)
	case c.PerSocket < 1 || c.PerSocket > maxPerSocket:
		return fmt.Errorf("--per-socket must be 1 to %d", maxPerSocket)
	case c.HealthInterval < minHealthEvery:
		return fmt.Errorf("--health-interval must be at least %s", minHealthEvery)
	case c.OnDemand.Count > 0 && (c.API == "" || c.APIKey == ""):
		return errors.New("--ondemand needs --api and --key")
	case c.OnDemand.Count > 0 && (c.OnDemand.Rate <= 0 || c.OnDemand.Concurrency < 1):
		return errors.New("--ondemand-rate and --ondemand-concurrency must be positive")
	case c.IngestKind != 0 && (c.IngestSenders < 1 || c.IngestSenders > c.Agents):
		return errors.New("--ingest-senders must be 1 to --agents")
	case c.Raw && c.IngestKind == 0:
		return errors.New("--raw measures beside --ingest: give --ingest health or full")
	case c.Storm != "" && c.Storm != "drop":
		return fmt.Errorf("--storm must be drop, not %q (bench restarts its own collector)", c.Storm)
	}
	for name, d := range map[string]time.Duration{"--connect-wait": c.ConnectWait, "--settle": c.Settle, "--ingest-window": c.IngestWindow,
		"--ingest-warmup": c.IngestWarmup, "--storm-wait": c.StormWait, "--hold": c.Hold} {
		if d < 0 || d > maxPhase {
			return fmt.Errorf("%s must be between 0 and %s", name, maxPhase)
		}
	}
	return nil
}

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("bench", "sonde-loadgen bench --collector-bin bin/sonde-collector [flags]", stderr)
	var b BenchConfig
	fs.StringVar(&b.CollectorBin, "collector-bin", "bin/sonde-collector", "the sonde-collector `binary` to run")
	fs.StringVar(&b.Dir, "dir", "", "keep the collector's data and the identities here, to reuse them next time (default: a temporary folder)")
	fs.IntVar(&b.Small, "agents", 1000, "agents of the first scenario (on-demand, ingest)")
	fs.IntVar(&b.Large, "agents-large", 10000, "agents of the second scenario (memory, reconnect storm)")
	fs.IntVar(&b.PerSocket, "per-socket", 250, "agents sharing one UDP socket")
	fs.DurationVar(&b.HealthInterval, "health-interval", 60*time.Second, "health snapshot period of each agent")
	fs.IntVar(&b.OnDemand.Count, "ondemand", 300, "on-demand requests in the first scenario")
	fs.Float64Var(&b.OnDemand.Rate, "ondemand-rate", 10, "on-demand requests a second")
	fs.IntVar(&b.OnDemand.Concurrency, "ondemand-concurrency", 32, "on-demand requests under way at most")
	fs.IntVar(&b.IngestSenders, "ingest-senders", 64, "agents sending back to back in the ingest burst")
	fs.DurationVar(&b.IngestWarmup, "ingest-warmup", 3*time.Second, "burst time not counted")
	fs.DurationVar(&b.IngestWindow, "ingest-window", 15*time.Second, "burst time counted (the raw ceiling gets the same)")
	fs.DurationVar(&b.Settle, "settle", 10*time.Second, "wait with every agent connected before reading the collector's memory")
	fs.BoolVar(&b.IngestOnly, "ingest-only", false, "run only the ingest burst of --agents and the raw QUIC ceiling beside it (no on-demand, no --agents-large fleet)")
	fs.StringVar(&b.ProfileDir, "profile-dir", "", "run the collector with --pprof and keep, in this `dir`, CPU profiles of it (ingest burst, reconnect storm) and, with every agent connected, a heap profile, its goroutines by stack and its Go memory figures")
	fs.DurationVar(&b.ProfileLength, "profile-length", 15*time.Second, "length of each CPU profile")
	fs.BoolVar(&b.Memory, "memory", false, "only connect --agents-large agents and read the collector's memory (no first scenario, no storm), to iterate on memory")
	if rest, err := cliflag.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("bench: unexpected argument %q", rest[0])
	}
	switch {
	case b.Small < 1 || b.Small > maxAgents || b.Large < 1 || b.Large > maxAgents:
		return fmt.Errorf("bench: --agents and --agents-large must be 1 to %d", maxAgents)
	case b.IngestSenders < 1 || b.IngestSenders > b.Small:
		return errors.New("bench: --ingest-senders must be 1 to --agents")
	case b.OnDemand.Count < 0 || b.OnDemand.Rate <= 0 || b.OnDemand.Concurrency < 1:
		return errors.New("bench: --ondemand must not be negative, --ondemand-rate and --ondemand-concurrency positive")
	case b.HealthInterval < minHealthEvery:
		return fmt.Errorf("bench: --health-interval must be at least %s", minHealthEvery)
	case b.PerSocket < 1 || b.PerSocket > maxPerSocket:
		return fmt.Errorf("bench: --per-socket must be 1 to %d", maxPerSocket)
	case b.ProfileLength < time.Second || b.ProfileLength > 5*time.Minute:
		return errors.New("bench: --profile-length must be 1s to 5m")
	case b.IngestOnly && b.Memory:
		return errors.New("bench: --ingest-only and --memory run different scenarios: give one")
	}
	if _, err := os.Stat(b.CollectorBin); err != nil {
		return fmt.Errorf("bench: the collector binary: %w (make build)", err)
	}
	b.Log = stderr
	res, err := Bench(ctx, b)
	if res != nil {
		res.Print(stdout)
	}
	return err
}

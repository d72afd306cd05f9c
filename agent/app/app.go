// Package app holds the sonde-agent commands.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/config"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/internal/version"
	"github.com/sondehq/sonde/protocol"
)

const usage = `sonde-agent: the Sonde diagnostics agent

commands:
  enroll --collector HOST:PORT --token T --ca-pin sha256:...   join a collector
  run [--config FILE]                 run in the foreground (the service runs the same)
  snapshot [--probes a,b|all] [--format json|text] [-o FILE] [--config FILE]   take a snapshot locally
  check                               look for problems and explain them in plain words
  probes                              list the compiled-in probes: when each runs, where it has data
  receipts [--limit 50] [--json]      what this agent collected and sent, when, for which ticket (any user)
  status                              is the agent installed, running, connected?
  install | uninstall | start | stop  manage the system service
  version | --version                 print the version, Go version and platform

Every command takes --state DIR (default: ` + "%s" + `).
--config FILE names the agent's configuration (default: ` + "%s" + `; optional).
Run "sonde-agent COMMAND -h" for a command's flags.
`

// Main runs the command in args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	var es exitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	return cliflag.ExitCode(err, "sonde-agent", fmt.Sprintf(usage, state.DefaultDir(), config.DefaultPath()), stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cliflag.ErrUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "enroll":
		return enroll(ctx, rest, stdout, stderr)
	case "run":
		return runAgent(ctx, rest, stderr)
	case "snapshot":
		return snapshot(ctx, rest, stdout, stderr)
	case "check":
		return check(ctx, rest, stdout, stderr)
	case "receipts":
		return receipts(rest, stdout, stderr)
	case "probes":
		return listProbes(stdout)
	case "status":
		return agentStatus(rest, stdout, stderr)
	case "install", "uninstall", "start", "stop":
		return control(cmd, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, usage, state.DefaultDir(), config.DefaultPath())
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n", cmd)
	return cliflag.ErrUsage
}

func enroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("enroll", "sonde-agent enroll --collector HOST:PORT --token T --ca-pin sha256:... [--state DIR] [--config FILE]", stderr)
	dir := fs.String("state", state.DefaultDir(), "state `dir`")
	addr := fs.String("collector", "", "collector `HOST:PORT` (QUIC, default port "+client.DefaultPort+")")
	token := fs.String("token", "", "enrollment token (from: sonde-collector token create)")
	pin := fs.String("ca-pin", "", "the collector CA's pin, sha256:...")
	force := fs.Bool("force", false, "replace an existing identity")
	cfgPath := fs.String("config", "", "the agent's configuration `file`, for its proxy settings (default "+config.DefaultPath()+", optional)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if *addr == "" || *token == "" || *pin == "" {
		fs.Usage()
		return errors.New("--collector, --token and --ca-pin are all required")
	}
	if old, err := state.Load(*dir); err == nil && !*force {
		return fmt.Errorf("already enrolled as %s with %s (state in %s); use --force to replace it", old.AgentID, old.Collector, *dir)
	}
	px, err := proxies(*cfgPath, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, err := client.Enroll(ctx, *dir, *addr, *token, *pin, probe.ReadFacts(ctx), px)
	if err != nil {
		return fmt.Errorf("enrolling with %s: %w", *addr, err)
	}
	fmt.Fprintf(stdout, "enrolled as agent %s with collector %s (state in %s)\n", render.Clean(cfg.AgentID), render.Clean(cfg.Collector), render.Clean(*dir))
	if _, err := state.EnsurePublic(*dir); err != nil {
		// The agent tries again when it starts.
		fmt.Fprintln(stderr, "sonde-agent: warning:", render.Clean(err.Error()))
	}
	return nil
}

// runFlags are the flags of `run`, shared with the service definition.
type runFlags struct {
	dir       string
	health    time.Duration
	logFormat string
	spoolMax  int64
	config    string
	enroll    string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "state", state.DefaultDir(), "state `dir`")
	fs.DurationVar(&f.health, "health-interval", client.DefaultHealthInterval, "period of health snapshots (the collector may set another)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.Int64Var(&f.spoolMax, "spool-max", spool.DefaultCap, "size cap in `bytes` of the spool of undelivered snapshots")
	fs.StringVar(&f.config, "config", "", "the agent's configuration `file` (default "+config.DefaultPath()+", optional)")
	fs.StringVar(&f.enroll, "enroll-file", "", "when not enrolled, enroll with the "+config.EnvCollector+", "+config.EnvToken+" and "+config.EnvCAPin+
		" settings of this `file` or the environment, retrying until it works (default "+config.EnrollPath()+")")
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	var f runFlags
	fs := cliflag.New("run", "sonde-agent run [--state DIR] [--health-interval 60s] [--config FILE]", stderr)
	f.register(fs)
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if !isInteractive() {
		return runService(f, stderr)
	}
	return f.run(ctx, stderr)
}

// run is the agent itself, in the foreground or under the service manager.
func (f *runFlags) run(ctx context.Context, stderr io.Writer) error {
	var h slog.Handler
	switch f.logFormat {
	case "text":
		h = slog.NewTextHandler(stderr, nil)
	case "json":
		h = slog.NewJSONHandler(stderr, nil)
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", f.logFormat)
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	log := slog.New(h)
	settings, err := cfg.ProxySettings()
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	px := &client.Proxies{Settings: settings, Log: log}
	quicRetry, err := cfg.QUICRetryPeriod()
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	onDemand, err := cfg.Budget()
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	ceiling, err := cfg.MemoryCeilingBytes()
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	debug.SetMemoryLimit(int64(ceiling)) // the collector works harder near it
	oneProcessor()
	batteryFloor, err := cfg.BatteryFloorPercent()
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	id, err := state.Load(f.dir)
	if errors.Is(err, state.ErrNotEnrolled) {
		if err = autoEnroll(ctx, f.dir, f.enroll, px, log); err == nil {
			id, err = state.Load(f.dir)
		}
	}
	if err != nil {
		return fmt.Errorf("state dir %s: %w", f.dir, err)
	}
	if len(id.RequestKey) == 0 {
		return fmt.Errorf("the identity in %s predates signed requests: enroll again with --force", f.dir)
	}
	sp, err := spool.Open(filepath.Join(f.dir, "spool"), f.spoolMax, log)
	if err != nil {
		return err
	}
	// The receipts and the connection status go to the public folder,
	// for the person at the machine; without one, the receipts stay in
	// the state dir, for root only.
	receipts, pub := f.dir, ""
	if p, err := state.EnsurePublic(f.dir); err != nil {
		log.Warn("no public folder: the receipts stay in the state dir, readable by root only", "err", err)
	} else {
		receipts, pub = p, p
		if err := receipt.Migrate(f.dir, p); err != nil {
			log.Warn("receipts of an earlier version not moved to the public folder", "err", err)
		}
	}
	c := &client.Client{
		ID:             id,
		Probes:         probe.NewSet(),
		Facts:          probe.ReadFacts(ctx),
		Log:            log,
		Spool:          sp,
		HealthInterval: f.health,
		Receipts:       &receipt.Log{Dir: receipts},
		StateDir:       f.dir,
		StatusDir:      pub,
		Reachability:   cfg.Reachability,
		Proxies:        px,
		QUICRetry:      quicRetry,
		Budget:         onDemand,
		MemoryCeiling:  ceiling,
		BatteryFloor:   batteryFloor,
	}
	if c.RestartedFor, err = state.TakeRestart(f.dir); err != nil {
		log.Warn("why the agent last restarted is not known", "err", err)
	}
	if c.RestartedFor != "" {
		log.Warn("the agent restarted", "why", c.RestartedFor)
	}
	c.Log.Info("agent starting", "agent", id.AgentID, "collector", id.Collector, "version", version.Version)
	if err := c.Run(ctx); err != nil {
		if errors.Is(err, client.ErrMemoryCeiling) {
			why := time.Now().UTC().Format(time.RFC3339) + ": " + err.Error()
			if serr := state.SaveRestart(f.dir, why); serr != nil {
				log.Warn("why the agent stops is not recorded", "err", serr)
			}
		}
		return fmt.Errorf("running the agent: %w", err)
	}
	return nil
}

func snapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("snapshot", "sonde-agent snapshot [--probes a,b|all] [--format json|text] [-o FILE] [--health] [--config FILE]", stderr)
	dir := fs.String("state", state.DefaultDir(), "state `dir` (for the collector reachability check, if enrolled)")
	var probes cliflag.List
	fs.Var(&probes, "probes", "probes to run, comma-separated, or all (default: all but the heavy ones; list them with: sonde-agent probes)")
	format := fs.String("format", "", "output format: json or text (default: text on a terminal, json otherwise and with -o)")
	out := fs.String("o", "", "write to `FILE` instead of standard output")
	health := fs.Bool("health", false, "take the light health variant")
	timeout := fs.Duration("timeout", 10*time.Second, "per-probe timeout")
	cfgPath := fs.String("config", "", "the agent's configuration `file`, for the reachability targets (default "+config.DefaultPath()+", optional)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return fmt.Errorf("taking a snapshot: %w", err)
	}
	set := probe.NewSet()
	if len(probes) == 1 && probes[0] == "all" {
		probes = set.Names()
	}
	for _, p := range probes {
		if !contains(set.Names(), p) {
			return fmt.Errorf("unknown probe %q; available: %s", p, strings.Join(set.Names(), ", "))
		}
	}
	// A probe named twice runs once, as a snapshot holds each once.
	var once []string
	for _, p := range probes {
		if !slices.Contains(once, p) {
			once = append(once, p)
		}
	}
	doc := localDocument(ctx, set, *dir, *health, once, *timeout, cfg)

	w := stdout
	var file *atomicfile.File
	if *out != "" {
		// Never through a link planted at the path: run as root, this
		// would overwrite whatever it points to (see atomicfile).
		if file, err = atomicfile.Create(*out, 0o600); err != nil {
			return fmt.Errorf("writing the snapshot: %w", err)
		}
		defer file.Close()
		w = file
	}
	if *format == "" {
		*format = "json"
		if *out == "" && isTerminal(stdout) {
			*format = "text"
		}
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("writing the snapshot: %w", err)
		}
	case "text":
		if err := render.Document(w, &doc); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--format must be json or text, not %q", *format)
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return fmt.Errorf("writing the snapshot: %w", err)
		}
	}
	return nil
}

// localDocument runs probes on this machine, checking the collector too
// when the state dir holds an identity, and the reachability targets of
// cfg.
func localDocument(ctx context.Context, set *probe.Set, dir string, health bool, probes []string, timeout time.Duration, cfg *config.Config) protocol.Document {
	env := &probe.Env{Health: health}
	agentID := ""
	if id, err := state.Load(dir); err == nil {
		// The reachability check dials as the running agent does: a
		// broken proxy setting shows as the check's error.
		var px *client.Proxies
		if settings, err := cfg.ProxySettings(); err == nil {
			px = &client.Proxies{Settings: settings}
		}
		env = (&client.Client{ID: id, Proxies: px}).Env(health)
		agentID = id.AgentID
	}
	env.Reachability = cfg.Reachability
	kind := protocol.KindFull
	if health {
		kind = protocol.KindHealth
	}
	facts := probe.ReadFacts(ctx)
	snap := &protocol.Snapshot{Kind: kind, AgentID: agentID, CapturedAt: time.Now().UnixMilli(), Probes: set.Run(ctx, env, probes, timeout)}
	doc := snap.Document()
	doc.Facts = &facts
	return doc
}

// check runs every probe and explains what it finds to the person at the
// keyboard.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("check", "sonde-agent check [--state DIR]", stderr)
	dir := fs.String("state", state.DefaultDir(), "state `dir` (for the collector reachability check, if enrolled)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	// The configuration's reachability targets, if it has any; a broken
	// file must not stop the person at the keyboard from a check.
	cfg, err := config.Load("")
	if err != nil {
		fmt.Fprintf(stderr, "sonde-agent: %s (checking without its reachability targets)\n", render.Clean(err.Error()))
		cfg = &config.Config{}
	}
	// Every probe, the heavy ones too: the person at the keyboard asked,
	// and crashes, a failing disk or a worn battery are what they ask about.
	set := probe.NewSet()
	doc := localDocument(ctx, set, *dir, false, set.Names(), 30*time.Second, cfg)
	if err := findings.Check(stdout, &doc, nil); err != nil {
		return fmt.Errorf("writing the findings: %w", err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// versionLine is what `sonde-agent version` prints: the release (set by
// the Makefile's -ldflags), the commit, the Go version and the platform.
func versionLine() string {
	build := fmt.Sprintf("%s, %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if rev := version.Revision(); rev != "unknown" {
		build = "revision " + rev[:min(len(rev), 12)] + ", " + build
	}
	return fmt.Sprintf("sonde-agent %s (%s)", version.Version, build)
}

// listProbes prints each compiled-in probe with the snapshots it runs in
// (health: every periodic health snapshot too; default: every snapshot
// that names no probes; heavy: only when named, as bundles do) and the
// platforms where it reads data.
func listProbes(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tRUNS\tPLATFORMS")
	for _, name := range probe.Names() {
		spec, _ := probe.SpecOf(name)
		runs := "default"
		switch {
		case spec.Heavy:
			runs = "heavy (when named)"
		case slices.Contains(probe.HealthProbes, name):
			runs = "health, default"
		}
		platforms := strings.Join(spec.Platforms, ", ")
		if platforms == "" {
			platforms = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, runs, platforms)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("listing probes: %w", err)
	}
	return nil
}

// proxies returns the proxy settings of the agent's configuration at path
// (the default when empty), for enrolling.
func proxies(path string, log *slog.Logger) (*client.Proxies, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("reading the proxy settings: %w", err)
	}
	settings, err := cfg.ProxySettings()
	if err != nil {
		return nil, fmt.Errorf("agent configuration: %w", err)
	}
	return &client.Proxies{Settings: settings, Log: log}, nil
}

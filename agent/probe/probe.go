// Package probe holds the agent's compiled-in probes and their registry.
//
// A probe is one file that registers itself from init(), plus one fixture
// folder under testdata/<probe>/. Probes read the host only through the
// *WithContext functions of gopsutil and through Path, so a test points them
// at a fake /proc, /sys and /etc by putting a common.EnvMap in the context
// (see WithRoot). A probe that fails returns an error; the snapshot carries it
// as data and the other probes go on.
package probe

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/protocol"
	"github.com/sondehq/sonde/redact"
)

// Probe gathers one section of a snapshot.
type Probe interface {
	// Name is the probe's kebab-case name, as requested on the wire.
	Name() string
	// Collect returns a value that encodes as JSON. It must honour ctx's
	// deadline and may keep state between calls (for rates and deltas); the
	// agent never calls one probe concurrently with itself.
	Collect(ctx context.Context, env *Env) (any, error)
}

// Env is what a probe knows of its surroundings beyond the host.
type Env struct {
	// Health asks for the probe's light variant: the few numbers a periodic
	// health snapshot carries, cheap enough to take every minute.
	Health bool
	// Collector is the collector the agent reports to; nil when none is
	// configured (a local `sonde-agent snapshot` before enrollment).
	Collector *Collector
	// Delivery, when set, reports how the agent's snapshots fare on their
	// way to the collector.
	Delivery func() *Delivery
	// Processes names processes L2 asked about (the request's Processes):
	// the processes probe lists those running, beside its top lists. A
	// filter over what the probe reads anyway, never an argument.
	Processes []string
	// Reachability lists the host:port targets IT set in the agent's
	// configuration file (package agent/config), checked by the
	// reachability probe. Never taken from a request.
	Reachability []string
	// Background runs each probe of Set.Run on an OS thread of lowered CPU
	// and I/O priority (package polite), so that it yields to the person
	// at the machine: the client sets it for on-demand runs only. Health
	// samples (Env.Health, Set.RunInOrder) never run lowered.
	Background bool

	// scrub is this probe run's redactor (see Scrub); Set.Run gives each
	// probe its own.
	scrub *redact.Redactor
}

// Scrub removes secrets from text the probe read on the host (a command
// line, a log line) with the redaction rules the collector applies to
// bundles, before it leaves the machine. where names the field, such as
// "cmdline". What it removes is counted in the probe's result.
func (e *Env) Scrub(s, where string) string {
	if e.scrub == nil {
		e.scrub = redact.New(redact.Options{})
	}
	return e.scrub.TextAt(s, where)
}

// scrubbed counts what Scrub removed, by rule.
func (e *Env) scrubbed() []protocol.Scrub {
	if e.scrub == nil {
		return nil
	}
	var out []protocol.Scrub
	for _, r := range e.scrub.Report().Rules {
		out = append(out, protocol.Scrub{Rule: r.Rule, Count: uint32(min(r.Count, math.MaxUint32))})
	}
	return out
}

// Collector describes the agent's collector to the probes that check it.
type Collector struct {
	// Addr is the collector's host:port as enrolled.
	Addr string
	// Live reports the connection the agent holds to the collector; ok is
	// false while it holds none (or Live is nil). The network probe reports
	// it as it is instead of dialing: a fresh connection costs milliseconds
	// of CPU, too much for every full snapshot.
	Live func() (conn LiveConn, ok bool)
	// Fresh asks the network probe for a fresh handshake even while a live
	// connection is there: the request asked for a connectivity check
	// (protocol.SnapshotRequest.FreshHandshake; a bundle does).
	Fresh bool
	// Handshake opens and closes a fresh connection to the collector, over
	// the transport the agent would connect with, and returns how long the
	// handshake took. The network probe calls it only when Live reports no
	// connection, or when Fresh asks.
	Handshake func(ctx context.Context) (time.Duration, error)
	// Offset returns the collector's clock minus this machine's, measured
	// at the last hello, and the round trip of that measurement; ok is
	// false until one was made.
	Offset func() (offset, rtt time.Duration, ok bool)
}

// LiveConn is the agent's connection to its collector, as its transport
// measures it along the way (see transport.Stats).
type LiveConn struct {
	// Transport is "quic" or "tcp".
	Transport string
	// RTT is the smoothed round trip, RTTVar its mean deviation; zero until
	// the transport has measured one.
	RTT, RTTVar time.Duration
	// Since is when the connection was made (its hello answered).
	Since time.Time
}

// Spec says when a probe runs and where it has data.
type Spec struct {
	// Heavy probes (logs, software, storage health) cost too much for every
	// snapshot: a snapshot that names no probes leaves them out, and they
	// run when asked for by name (a bundle asks for every probe).
	Heavy bool
	// Platforms lists the operating systems (GOOS values) where the probe
	// reads data; elsewhere it says so. Empty means every platform.
	Platforms []string
}

// Everywhere is the Platforms of a probe with data on every platform the
// agent is built for.
var Everywhere = []string{"linux", "windows", "darwin"}

type registered struct {
	spec Spec
	new  func() Probe
}

var (
	mu       sync.RWMutex
	registry = map[string]registered{}
)

// Register makes a probe available under name. It panics on an invalid or
// duplicate name: both are programming errors found at start-up.
func Register(name string, spec Spec, newProbe func() Probe) {
	if !protocol.ValidProbeName(name) {
		panic(fmt.Sprintf("probe: invalid name %q", name))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("probe: %q registered twice", name))
	}
	registry[name] = registered{spec, newProbe}
}

// SpecOf returns the named probe's Spec.
func SpecOf(name string) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := registry[name]
	return r.spec, ok
}

// Names returns the registered probe names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns a fresh instance of the named probe.
func New(name string) (Probe, bool) {
	mu.RLock()
	r, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return nil, false
	}
	return r.new(), true
}

// Roots of the host file systems, keyed like gopsutil's environment.
var defaultRoots = map[common.EnvKeyType]string{
	common.HostProcEnvKey: "/proc",
	common.HostSysEnvKey:  "/sys",
	common.HostEtcEnvKey:  "/etc",
	common.HostVarEnvKey:  "/var",
	common.HostRunEnvKey:  "/run",
	common.HostDevEnvKey:  "/dev",
	common.HostRootEnvKey: "/",
}

// WithRoot returns a context in which the host's /proc, /sys, /etc, /var,
// /run and /dev are the folders of the same names under dir, for gopsutil
// and for Path alike.
func WithRoot(ctx context.Context, dir string) context.Context {
	m := common.EnvMap{}
	for k, v := range defaultRoots {
		m[k] = dir + v
	}
	m[common.HostRootEnvKey] = dir
	return context.WithValue(ctx, common.EnvKey, m)
}

// Path joins parts under the host root named by key (common.HostProcEnvKey,
// ...), taken from the context's EnvMap, else the environment variable of
// the same name, else the default.
func Path(ctx context.Context, key common.EnvKeyType, parts ...string) string {
	root := ""
	if m, ok := ctx.Value(common.EnvKey).(common.EnvMap); ok {
		root = m[key]
	}
	if root == "" {
		root = getenv(string(key))
	}
	if root == "" {
		root = defaultRoots[key]
	}
	for _, p := range parts {
		if len(root) > 0 && root[len(root)-1] != '/' {
			root += "/"
		}
		root += p
	}
	return root
}

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

	// scrub is this probe run's redaction (see Scrub); Set.Run gives each
	// probe its own.
	scrub *scrubbing
}

// scrubbing is what one probe run scrubbed: with its redactor, and what
// the lines it kept from an earlier run held (see ScrubKept).
type scrubbing struct {
	r     *redact.Redactor // nil until Scrub is called
	kept  map[string]uint32
	lines int // lines ScrubLine scrubbed anew
}

// Scrub removes secrets from text the probe read on the host (a command
// line, a log line) with the redaction rules the collector applies to
// bundles, before it leaves the machine. where names the field, such as
// "cmdline". What it removes is counted in the probe's result.
func (e *Env) Scrub(s, where string) string {
	sc := e.scrubbing()
	if sc.r == nil {
		sc.r = redact.New(redact.Options{})
	}
	return sc.r.TextAt(s, where)
}

// ScrubLine is Scrub for text a probe keeps between runs and shows again
// while it is unchanged (a command line): it also returns what was removed
// from it, by rule, for ScrubKept to count again at each later run that
// shows the line without scrubbing it anew.
func (e *Env) ScrubLine(s, where string) (string, []protocol.Scrub) {
	// A redactor of its own tells this line's finds from the run's others;
	// it pseudonymizes nothing, so it needs no salt drawn.
	r := redact.New(redact.Options{Salt: []byte("line")})
	out := r.TextAt(s, where)
	found := scrubCounts(r)
	e.scrubbing().lines++
	e.ScrubKept(found)
	return out, found
}

// ScrubKept counts in this run's result what ScrubLine removed from a kept
// line that the probe shows again.
func (e *Env) ScrubKept(found []protocol.Scrub) {
	if len(found) == 0 {
		return
	}
	sc := e.scrubbing()
	if sc.kept == nil {
		sc.kept = map[string]uint32{}
	}
	for _, f := range found {
		sc.kept[f.Rule] = uint32(min(uint64(sc.kept[f.Rule])+uint64(f.Count), math.MaxUint32))
	}
}

func (e *Env) scrubbing() *scrubbing {
	if e.scrub == nil {
		e.scrub = &scrubbing{}
	}
	return e.scrub
}

// scrubbed counts what was removed in this run, by rule, sorted.
func (e *Env) scrubbed() []protocol.Scrub {
	if e.scrub == nil {
		return nil
	}
	out := scrubCounts(e.scrub.r)
	for rule, n := range e.scrub.kept {
		i := sort.Search(len(out), func(i int) bool { return out[i].Rule >= rule })
		if i < len(out) && out[i].Rule == rule {
			out[i].Count = uint32(min(uint64(out[i].Count)+uint64(n), math.MaxUint32))
			continue
		}
		out = append(out, protocol.Scrub{})
		copy(out[i+1:], out[i:])
		out[i] = protocol.Scrub{Rule: rule, Count: n}
	}
	return out
}

// scrubCounts lists what r removed, by rule, sorted; nil for a nil r.
func scrubCounts(r *redact.Redactor) []protocol.Scrub {
	if r == nil {
		return nil
	}
	var out []protocol.Scrub
	for _, rr := range r.Report().Rules {
		out = append(out, protocol.Scrub{Rule: rr.Rule, Count: uint32(min(rr.Count, math.MaxUint32))})
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

package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sondehq/sonde/agent/config"
)

func init() {
	// Heavy: it resolves names and opens TCP connections across the
	// network, up to seconds per target, so it runs only when named.
	Register("reachability", Spec{Heavy: true, Platforms: Everywhere}, func() Probe {
		d := &net.Dialer{}
		return &reachProbe{resolve: net.DefaultResolver.LookupNetIP, dial: d.DialContext, now: time.Now}
	})
}

// reachProbe resolves each target IT set in the agent's configuration
// (Env.Reachability, never a request's) and opens a TCP connection to it,
// all targets at once, each step under a short deadline. It sends nothing
// over the connection and closes it at once.
type reachProbe struct {
	resolve func(ctx context.Context, network, host string) ([]netip.Addr, error)
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	now     func() time.Time
}

// Deadlines and bounds of the reachability checks: a target takes at most
// resolveTimeout+connectTimeout, well within a snapshot's probe timeout.
const (
	resolveTimeout  = 2 * time.Second
	connectTimeout  = 3 * time.Second
	maxReachAddrs   = 8
	maxConnectTries = 3
)

// errHealthNetwork is the reachability probe's answer in a health
// snapshot, which never makes network connections to IT's targets.
var errHealthNetwork = errors.New("reachability checks run on demand only, never in health snapshots")

// ReachabilityResult is the reachability probe's result.
type ReachabilityResult struct {
	// Configured is how many targets the agent's configuration lists.
	Configured int           `json:"configured"`
	Targets    []ReachTarget `json:"targets"`
	// Note says why there are no targets.
	Note string `json:"note,omitempty"`
}

// ReachTarget is one target's checks.
type ReachTarget struct {
	Target string `json:"target"`
	// Resolve is the name lookup; absent when the target is an address.
	Resolve   *ReachStep `json:"resolve,omitempty"`
	Addresses []string   `json:"addresses,omitempty"`
	// Connect is the TCP connection: the first that succeeded, else the
	// first failure; skipped when the name did not resolve.
	Connect ReachStep `json:"connect"`
	// Address is the address Connect reached or failed on.
	Address string `json:"address,omitempty"`
	// Attempts lists each address tried, in order, when there were
	// several: an IPv6 route that fails before IPv4 answers shows here.
	Attempts []ReachAttempt `json:"attempts,omitempty"`
	OK       bool           `json:"ok"`
}

// ReachAttempt is one connection attempt to one address.
type ReachAttempt struct {
	Address string `json:"address"`
	ReachStep
}

// ReachStep is one timed step; Error and Kind are empty when it succeeded.
type ReachStep struct {
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	// Kind classifies the error: not-found, timeout, server-failure for a
	// lookup; refused, timeout, no-route, reset, blocked-locally for a
	// connection; other, or skipped.
	Kind string `json:"error_kind,omitempty"`
}

func (p *reachProbe) Name() string { return "reachability" }

func (p *reachProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		return nil, errHealthNetwork
	}
	targets := env.Reachability
	r := &ReachabilityResult{Configured: len(targets), Targets: []ReachTarget{}}
	if len(targets) == 0 {
		r.Note = "no targets configured: IT lists them under reachability: in the agent's configuration file"
		return r, nil
	}
	targets = targets[:min(len(targets), config.MaxTargets)]
	r.Targets = make([]ReachTarget, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Targets[i] = p.check(ctx, t)
		}()
	}
	wg.Wait()
	return r, nil
}

// check resolves one target, unless it is an address, and connects to its
// addresses in turn until one answers.
func (p *reachProbe) check(ctx context.Context, target string) ReachTarget {
	t := ReachTarget{Target: cleanText(target, 260)}
	if err := config.CheckTarget(target); err != nil {
		t.Connect = ReachStep{Error: cleanText(err.Error(), 300), Kind: "invalid"}
		return t
	}
	host, port, _ := net.SplitHostPort(target)
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else {
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		start := p.now()
		found, err := p.resolve(rctx, "ip", host)
		cancel()
		t.Resolve = &ReachStep{DurationMS: millis(p.now().Sub(start))}
		if err != nil {
			t.Resolve.Error, t.Resolve.Kind = cleanText(err.Error(), 300), resolveKind(err)
			t.Connect = ReachStep{Error: "skipped: the name did not resolve", Kind: "skipped"}
			return t
		}
		for _, a := range found {
			if len(addrs) < maxReachAddrs {
				addrs = append(addrs, a.Unmap())
			}
		}
		for _, a := range addrs {
			t.Addresses = append(t.Addresses, a.String())
		}
		if len(addrs) == 0 {
			t.Connect = ReachStep{Error: "skipped: the name has no address", Kind: "skipped"}
			return t
		}
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	for i, a := range addrs[:min(len(addrs), maxConnectTries)] {
		addr := net.JoinHostPort(a.String(), port)
		start := p.now()
		conn, err := p.dial(cctx, "tcp", addr)
		step := ReachStep{DurationMS: millis(p.now().Sub(start))}
		if err == nil {
			conn.Close()
		} else {
			step.Error, step.Kind = cleanText(err.Error(), 300), connectKind(err)
		}
		t.Attempts = append(t.Attempts, ReachAttempt{addr, step})
		if err == nil || i == 0 {
			t.Connect, t.Address, t.OK = step, addr, err == nil
		}
		if err == nil || cctx.Err() != nil {
			break
		}
	}
	if len(t.Attempts) == 1 {
		t.Attempts = nil // the same as Connect
	}
	return t
}

// resolveKind classifies a failed lookup.
func resolveKind(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "not-found"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &dns) && dns.IsTimeout:
		return "timeout"
	case errors.As(err, &dns) && dns.IsTemporary:
		return "server-failure"
	}
	return "other"
}

// connectKind classifies a failed connection: by error number, else (on
// Windows, whose WSA numbers are not the syscall package's) by the
// system's message.
func connectKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "no-route"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return "blocked-locally"
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "refused"):
		return "refused"
	case strings.Contains(msg, "unreachable") || strings.Contains(msg, "no route"):
		return "no-route"
	case strings.Contains(msg, "timed out") || strings.Contains(msg, "did not properly respond"):
		return "timeout"
	case strings.Contains(msg, "reset"):
		return "reset"
	}
	return "other"
}

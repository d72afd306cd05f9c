package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// Identity is one simulated agent's enrolled identity and facts.
type Identity struct {
	*state.Identity
	Facts protocol.Facts
}

// Enrollment says where the identities are cached and how to enroll the
// ones that are not.
type Enrollment struct {
	// Dir is the cache: identities live in Dir/<CA pin>/agent-NNNNN, one
	// state dir each (agent/state's layout), so that a second run
	// against the same collector reuses them and another collector's
	// never mix in.
	Dir       string
	Collector string // host:port
	Pin       string // the collector's CA pin, sha256:<hex>
	Token     string // an enrollment token for the agents not cached; "" when all are
	N         int
	// Rate bounds enrollments a second: the collector answers CA
	// discovery (each enrollment's first step) at 50 a second after a
	// burst of 200. Default 40.
	Rate int
	// Concurrency bounds enrollments under way. Default 16.
	Concurrency int
	Facts       protocol.Facts // the base facts; each agent gets its own hostname and host ID
	// Progress, when set, is told how many are done, now and then.
	Progress func(done, total int)
}

// ErrNeedToken is returned when identities are missing from the cache and
// no token was given to enroll them.
var ErrNeedToken = errors.New("identities missing from the cache and no enrollment token given")

// renewMargin is how much life a cached certificate must have left.
const renewMargin = time.Hour

// LoadOrEnroll returns the N identities, reusing those cached for this
// collector and enrolling the rest through client.Enroll, the agent's own
// enrollment (CA discovery checked against the pin, a certificate request
// with the token). It returns how many it enrolled.
func LoadOrEnroll(ctx context.Context, e Enrollment) ([]*Identity, int, error) {
	if e.N <= 0 {
		return nil, 0, fmt.Errorf("enrolling: want a positive number of agents, not %d", e.N)
	}
	addr, err := client.NormalizeAddr(e.Collector)
	if err != nil {
		return nil, 0, fmt.Errorf("enrolling: %w", err)
	}
	dir, err := cacheDir(e.Dir, e.Pin)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]*Identity, e.N)
	var missing []int
	for i := range e.N {
		facts := agentFacts(e.Facts, i)
		id, err := cached(filepath.Join(dir, agentDir(i)), e.Pin)
		if err != nil {
			missing = append(missing, i)
			continue
		}
		ids[i] = &Identity{Identity: id, Facts: facts}
	}
	if len(missing) == 0 {
		return ids, 0, nil
	}
	if e.Token == "" {
		return nil, 0, fmt.Errorf("%w: %d of %d not in %s; make one with `sonde-collector token create --uses %d --json` and pass --token",
			ErrNeedToken, len(missing), e.N, dir, len(missing))
	}
	rate, conc := max(e.Rate, 1), max(e.Concurrency, 1)
	if e.Rate == 0 {
		rate = 40
	}
	if e.Concurrency == 0 {
		conc = 16
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	sem := make(chan struct{}, conc)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		done int
	)
	for _, i := range missing {
		select {
		case <-tick.C:
		case <-ctx.Done():
			wg.Wait()
			return nil, done, fmt.Errorf("enrolling: %w", ctx.Err())
		}
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id, err := enrollOne(ctx, filepath.Join(dir, agentDir(i)), addr, e.Token, e.Pin, agentFacts(e.Facts, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("enrolling agent %d: %w", i, err))
				return
			}
			ids[i] = &Identity{Identity: id, Facts: agentFacts(e.Facts, i)}
			done++
			if e.Progress != nil && done%500 == 0 {
				e.Progress(done, len(missing))
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, done, errors.Join(errs...)
	}
	return ids, done, nil
}

// enrollOne enrolls one agent into dir, retrying a few times: under a burst
// the collector drops CA discovery datagrams beyond its rate.
func enrollOne(ctx context.Context, dir, addr, token, pin string, facts protocol.Facts) (*state.Identity, error) {
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		ectx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = client.Enroll(ectx, dir, addr, token, pin, facts, nil)
		cancel()
		if err == nil {
			id, lerr := state.Load(dir)
			if lerr != nil {
				return nil, fmt.Errorf("reading the identity just saved: %w", lerr)
			}
			return id, nil
		}
		if ctx.Err() != nil || strings.Contains(err.Error(), "token") {
			break // a used-up or wrong token does not get better
		}
		t := time.NewTimer(time.Duration(attempt) * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return nil, fmt.Errorf("enrolling with %s: %w", addr, err)
}

// cached loads the identity in dir if its CA matches pin and its
// certificate has renewMargin left. The CA, not the address, is the
// collector: bench starts its collector on a new port each time, and an
// identity enrolled on the last one is still valid there (the fleet dials
// the address it is given, not the one saved). Enrolling again would
// only add agents to the collector's database, and with them memory.
func cached(dir, pin string) (*state.Identity, error) {
	id, err := state.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading a cached identity: %w", err)
	}
	if err := protocol.CheckPin(id.CA, pin); err != nil {
		return nil, err
	}
	leaf := id.Cert.Leaf
	if leaf == nil || time.Until(leaf.NotAfter) < renewMargin {
		return nil, fmt.Errorf("cached identity in %s expires too soon", dir)
	}
	return id, nil
}

// cacheDir is the cache's folder for the collector whose CA pin is pin.
func cacheDir(root, pin string) (string, error) {
	if root == "" {
		return "", errors.New("enrolling: no identity cache directory")
	}
	hex, ok := strings.CutPrefix(pin, "sha256:")
	if !ok || len(hex) < 16 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("enrolling: CA pin %q is not sha256:<hex>", pin)
	}
	dir := filepath.Join(root, "ca-"+hex[:16])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the identity cache: %w", err)
	}
	return dir, nil
}

func agentDir(i int) string { return fmt.Sprintf("agent-%05d", i) }

// agentFacts gives agent i its own hostname and host ID on base's facts.
func agentFacts(base protocol.Facts, i int) protocol.Facts {
	f := base
	f.Hostname = fmt.Sprintf("loadgen-%05d", i)
	f.HostID = fmt.Sprintf("loadgen-host-%05d", i)
	return f
}

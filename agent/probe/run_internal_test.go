package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// textProbe returns the lines it was made with, each through env.Scrub.
type textProbe []string

func (textProbe) Name() string { return "text" }

func (p textProbe) Collect(_ context.Context, env *Env) (any, error) {
	out := make([]string, len(p))
	for i, line := range p {
		out[i] = env.Scrub(line, "line")
	}
	return out, nil
}

func testSet(probes map[string]Probe, specs map[string]Spec) *Set {
	s := &Set{probes: probes, specs: specs, locks: map[string]*sync.Mutex{}}
	for n := range probes {
		s.names = append(s.names, n)
		s.locks[n] = new(sync.Mutex)
	}
	slices.Sort(s.names)
	return s
}

// TestScrubCounted: what a probe scrubs through its Env is gone from its
// data and counted, by rule, in its own result only.
func TestScrubCounted(t *testing.T) {
	const password, token = "hunter2-Wibble-77", "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	s := testSet(map[string]Probe{
		"secrets": textProbe{"backup --password=" + password + " /srv", "git push https://x:" + token + "@example.org/r.git", "GITHUB=" + token},
		"plain":   textProbe{"bash -c true"},
	}, map[string]Spec{})
	results := s.Run(t.Context(), &Env{}, []string{"secrets", "plain"}, time.Minute)
	sec, plain := results[0], results[1]
	if sec.Error != "" || strings.Contains(string(sec.Data), password) || strings.Contains(string(sec.Data), token) {
		t.Fatalf("scrubbed data still holds a secret (error %q): %s", sec.Error, sec.Data)
	}
	total := uint32(0)
	for _, sc := range sec.Scrubbed {
		if !protocol.ValidProbeName(sc.Rule) || sc.Count == 0 {
			t.Errorf("scrub count %+v", sc)
		}
		total += sc.Count
	}
	if total < 3 {
		t.Errorf("scrubbed %+v, want at least the three secrets counted", sec.Scrubbed)
	}
	if plain.Scrubbed != nil || string(plain.Data) != `["bash -c true"]` {
		t.Errorf("a probe that scrubbed nothing: data %s, scrubbed %+v", plain.Data, plain.Scrubbed)
	}
	// A second run counts afresh.
	again := s.Run(t.Context(), &Env{}, []string{"secrets"}, time.Minute)[0]
	if !slices.Equal(again.Scrubbed, sec.Scrubbed) {
		t.Errorf("second run scrubbed %+v, first %+v", again.Scrubbed, sec.Scrubbed)
	}
}

// TestDefaultLeavesHeavyOut: a snapshot that names no probes runs every
// probe but the heavy ones; a heavy probe runs when named.
func TestDefaultLeavesHeavyOut(t *testing.T) {
	s := testSet(map[string]Probe{"light": textProbe{"a"}, "heavy": textProbe{"b"}},
		map[string]Spec{"heavy": {Heavy: true}})
	if got := s.Default(); !slices.Equal(got, []string{"light"}) {
		t.Fatalf("Default = %v", got)
	}
	var ran []string
	for _, r := range s.Run(t.Context(), &Env{}, nil, time.Minute) {
		ran = append(ran, r.Name)
	}
	if !slices.Equal(ran, []string{"light"}) {
		t.Errorf("a snapshot naming no probes ran %v", ran)
	}
	if r := s.Run(t.Context(), &Env{}, []string{"heavy"}, time.Minute)[0]; r.Error != "" || string(r.Data) != `["b"]` {
		t.Errorf("heavy probe asked by name: %+v", r)
	}
}

// funcProbe collects with its function.
type funcProbe func(ctx context.Context) (any, error)

func (funcProbe) Name() string { return "func" }

func (f funcProbe) Collect(ctx context.Context, _ *Env) (any, error) { return f(ctx) }

// TestRunOutcomes: each probe's outcome lands in its own result, in the
// order asked: a value, an error, a panic, a name not in the set, and a
// probe stuck past the timeout, reported as timed out while the others are
// not held up by it. A probe still stuck from one Run is not entered by
// the next, which reports it timed out too; once it returns, the next Run
// runs it again.
func TestRunOutcomes(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entries := 0
	s := testSet(map[string]Probe{
		"ok":     funcProbe(func(context.Context) (any, error) { return map[string]int{"n": 1}, nil }),
		"failed": funcProbe(func(context.Context) (any, error) { return nil, errors.New("no such file") }),
		"panics": funcProbe(func(context.Context) (any, error) { panic("boom") }),
		"stuck": funcProbe(func(context.Context) (any, error) {
			entries++
			entered.Done()
			<-release // a system call that ignores ctx
			return "late", nil
		}),
	}, nil)
	names := []string{"stuck", "ok", "nope", "failed", "panics"}
	entered.Add(1)
	check := func(run int, rs []protocol.ProbeResult) {
		t.Helper()
		for i, r := range rs {
			if r.Name != names[i] {
				t.Fatalf("run %d: result %d is %q, want %q", run, i, r.Name, names[i])
			}
		}
		if rs[0].Error != "timed out after 200ms" || rs[0].Data != nil {
			t.Errorf("run %d: stuck: %+v", run, rs[0])
		}
		if string(rs[1].Data) != `{"n":1}` || rs[1].Error != "" || rs[1].Duration <= 0 {
			t.Errorf("run %d: ok: %+v", run, rs[1])
		}
		if rs[2].Error != "unknown probe" || rs[3].Error != "no such file" || !strings.HasPrefix(rs[4].Error, "probe panicked: boom") {
			t.Errorf("run %d: %q, %q, %q", run, rs[2].Error, rs[3].Error, rs[4].Error)
		}
	}
	check(1, s.Run(context.Background(), &Env{}, names, 200*time.Millisecond))
	entered.Wait()
	check(2, s.Run(context.Background(), &Env{}, names, 200*time.Millisecond))
	if entries != 1 {
		t.Fatalf("the stuck probe was entered %d times", entries)
	}
	entered.Add(1)
	close(release)
	rs := s.Run(context.Background(), &Env{}, names[:1], 10*time.Second)
	if string(rs[0].Data) != `"late"` || rs[0].Error != "" || entries != 2 {
		t.Errorf("after the release: %+v, %d entries", rs[0], entries)
	}
}

//go:build bench

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestHammer is `make bench-hammer`: one agent, on loopback, asked for
// snapshots through the collector's API by HAMMER_CALLERS callers (50) at
// full speed for HAMMER_SECONDS (60), spread over five l2 keys, while one
// more caller, the L2 engineer, asks for a snapshot every 5 s; once with
// the agent's budget at its defaults, then at its widest settings (50 % of
// a core, 1 min at once: the budget can be bounded, not switched off) for
// comparison. It prints, for each: the agent's CPU as a share of one core
// over the run, the answers by status, the refusals the agent itself made
// (the collector's over_budget count), the agent's peak RSS (VmHWM) before
// and after, the longest gap between its health samples (at 2 s), and the
// engineer's answers and round trips. It asserts only that it measured.
func TestHammer(t *testing.T) {
	callers := envInt(t, "HAMMER_CALLERS", 50)
	dur := time.Duration(envInt(t, "HAMMER_SECONDS", 60)) * time.Second
	load := loadAvg(t)
	agentBin := (&agentFigures{}).buildAgent(t)
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	token, pin := col.Token(t, 1)
	ag := enroll(t, agentBin, nil, col.QUIC, token, pin)
	var keys []string
	for i := range 6 {
		out := harness.Run(t, filepath.Join(bin, "sonde-collector"), "apikey", "create", fmt.Sprint("hammer-", i), "--role", "l2", "--data", col.Data)
		key, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
		keys = append(keys, key)
	}
	h := &hammer{url: "http://" + col.HTTP, agent: ag.id, callers: keys[:5], engineer: keys[5], client: localClient(t)}
	var out strings.Builder
	fmt.Fprintf(&out, "`make bench-hammer`: %d callers for %s, load average %s before, ", callers, dur, load)
	rows := [][]string{{"", "CPU of one core", "answers", "refused by the agent", "VmHWM before → after", "longest health gap", "engineer: answers, round trips"}}
	for _, mode := range []struct{ name, config string }{
		{"budget at its defaults (2 %, 1 s at once)", ""},
		{"budget at its widest (50 %, 1 min at once)", "on_demand_cpu: 50%\non_demand_burst: 1m\n"},
	} {
		cfg := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(cfg, []byte(mode.config), 0o600); err != nil {
			t.Fatal(err)
		}
		p, _, _ := run(t, ag, "--config", cfg, "--health-interval", "2s")
		time.Sleep(settle)
		r := h.run(t, p, callers, dur)
		p.Stop(10 * time.Second)
		rows = append(rows, []string{mode.name, r.cpu, r.answers, r.refusedByAgent, r.hwm, r.healthGap, r.engineer})
	}
	fmt.Fprintf(&out, "%s after.\n\n", loadAvg(t))
	for i, row := range rows {
		fmt.Fprintf(&out, "| %s |\n", strings.Join(row, " | "))
		if i == 0 {
			fmt.Fprintf(&out, "|%s\n", strings.Repeat("---|", len(row)))
		}
	}
	t.Logf("hammer:\n%s", out.String())
}

// hammer asks one agent for snapshots through the API.
type hammer struct {
	url, agent string
	callers    []string // keys the callers take turns with
	engineer   string   // the L2 engineer's key
	client     *http.Client
}

// hammerResult is one run, as table cells.
type hammerResult struct {
	cpu, answers, refusedByAgent, hwm, healthGap, engineer string
}

// run hammers for d with n callers while the engineer asks every 5 s.
func (h *hammer) run(t *testing.T, p *harness.Proc, n int, d time.Duration) hammerResult {
	t.Helper()
	overBefore := h.overBudget(t)
	hwmBefore := vmHWM(t, p.Pid())
	start, cpu0 := time.Now(), cpuOf(t, p)
	stop := start.Add(d)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		key := h.callers[i%len(h.callers)]
		wg.Go(func() {
			for time.Now().Before(stop) {
				code, _, _ := h.ask(key)
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	var eng []string
	var served atomic.Int64
	wg.Go(func() {
		for at := start.Add(2 * time.Second); at.Before(stop); at = at.Add(5 * time.Second) {
			time.Sleep(time.Until(at))
			code, took, shared := h.ask(h.engineer)
			what := strconv.Itoa(code)
			if code == http.StatusCreated {
				served.Add(1)
				what = "fresh"
				if shared {
					what = "shared"
				}
			}
			eng = append(eng, fmt.Sprintf("%s %d ms", what, took.Milliseconds()))
		}
	})
	wg.Wait()
	took, cpu := time.Since(start), cpuOf(t, p)-cpu0
	gap := h.healthGap(t, start, stop)
	var answers []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		answers = append(answers, fmt.Sprintf("%d: %d", c, codes[c]))
	}
	return hammerResult{
		cpu:            fmt.Sprintf("%.2f %% (%s over %s)", 100*cpu.Seconds()/took.Seconds(), cpu.Round(10*time.Millisecond), took.Round(time.Second)),
		answers:        strings.Join(answers, ", "),
		refusedByAgent: strconv.Itoa(h.overBudget(t) - overBefore),
		hwm:            fmt.Sprintf("%.1f → %.1f MB", float64(hwmBefore)/1e6, float64(vmHWM(t, p.Pid()))/1e6),
		healthGap:      gap.Round(100 * time.Millisecond).String(),
		engineer:       fmt.Sprintf("%d of %d served: %s", served.Load(), len(eng), strings.Join(eng, "; ")),
	}
}

// ask asks for the default set with key, and returns the status, the round
// trip, and whether a served snapshot was captured before it was asked for
// (the agent answered with a run that finished moments before).
func (h *hammer) ask(key string) (int, time.Duration, bool) {
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/agents/"+h.agent+"/snapshots", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+key)
	asked := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, time.Since(asked), false
	}
	defer resp.Body.Close()
	var snap struct {
		CapturedAt time.Time `json:"captured_at"`
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	took := time.Since(asked)
	if resp.StatusCode == http.StatusCreated && json.Unmarshal(body.Bytes(), &snap) == nil {
		return resp.StatusCode, took, snap.CapturedAt.Before(asked.Add(-50 * time.Millisecond))
	}
	return resp.StatusCode, took, false
}

// overBudget reads the collector's count of requests the agent refused
// over its budget.
func (h *hammer) overBudget(t *testing.T) int {
	t.Helper()
	resp, err := h.client.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	m := regexp.MustCompile(`(?m)^sonde_snapshot_request_duration_seconds_count\{result="over_budget"\} (\d+)$`).FindSubmatch(b.Bytes())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// healthGap is the longest time between two health samples the agent
// captured from start to stop (from start and to stop at the ends).
func (h *hammer) healthGap(t *testing.T, start, stop time.Time) time.Duration {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/api/v1/agents/"+h.agent+"/snapshots?kind=health", nil)
	req.Header.Set("Authorization", "Bearer "+h.engineer)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		CapturedAt time.Time `json:"captured_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("listing health samples: %v", err)
	}
	times := []time.Time{start, stop}
	for _, s := range list {
		if s.CapturedAt.After(start) && s.CapturedAt.Before(stop) {
			times = append(times, s.CapturedAt)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	return gap
}

// vmHWM is a process's peak resident memory, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

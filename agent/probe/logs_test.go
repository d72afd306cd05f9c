package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// logsNow is the fixtures' present: 2026-03-10 12:00:00 UTC.
var logsNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// logsCanaries are secrets planted in the fixtures' log lines and crash
// reports; none may appear in a result.
var logsCanaries = []string{
	"Hunter2-Canary-77",
	"ghp_R8x2Kq9LmN4vB7cT1yZ5wE3uA6sD0fG2hJ4k",
	"Tr0ub4dor-Canary-31",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
}

// The fixed command lines of the tools the logs probe runs.
var logsToolLines = map[string]string{
	"journalctl": "journalctl --output=json --output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,_COMM,_TRANSPORT," +
		"COREDUMP_EXE,COREDUMP_COMM,COREDUMP_PID,COREDUMP_SIGNAL_NAME,COREDUMP_FILENAME,COREDUMP_TIMESTAMP " +
		"--no-pager --quiet --priority=warning --since=-24h --reverse --lines=2000",
	"wevtutil-System": "wevtutil qe System /q:*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[timediff(@SystemTime) <= 86400000]]] " +
		"/c:1000 /rd:true /f:RenderedXml",
	"wevtutil-Application": "wevtutil qe Application /q:*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[timediff(@SystemTime) <= 86400000]]] " +
		"/c:1000 /rd:true /f:RenderedXml",
	"log": "log show --style ndjson --last 24h --predicate messageType == error OR messageType == fault",
}

// recordedTools answers the logs probe's tool runs with the recorded
// output in dir (journalctl.json, wevtutil-<log>.xml, log.ndjson), cut at
// the limit as runTool cuts it, after checking the arguments are the fixed
// ones. A tool without a recording is not installed.
func recordedTools(t *testing.T, dir string) func(context.Context, int, string, ...string) ([]byte, bool, error) {
	return func(_ context.Context, limit int, name string, args ...string) ([]byte, bool, error) {
		key, file := name, map[string]string{"journalctl": "journalctl.json", "log": "log.ndjson"}[name]
		if name == "wevtutil" && len(args) > 1 {
			key, file = name+"-"+args[1], "wevtutil-"+args[1]+".xml"
		}
		if got := strings.Join(append([]string{name}, args...), " "); got != logsToolLines[key] {
			t.Errorf("ran %q, want the fixed %q", got, logsToolLines[key])
		}
		out, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, os.ErrNotExist) || file == "" {
			return nil, false, probe.ErrNotAvailable
		}
		if err != nil {
			return nil, false, err
		}
		if len(out) > limit {
			return out[:limit], true, nil
		}
		return out, false, nil
	}
}

func newFixtureLogs(t *testing.T, dir, goos string, limits probe.LogsLimits) probe.Probe {
	return probe.NewTestLogs(probe.LogsFakes{Now: logsNow, Loc: time.UTC, GOOS: goos, Tool: recordedTools(t, dir), Limits: limits})
}

// collectLogs runs p over dir/root and checks that no canary leaks.
func collectLogs(t *testing.T, p probe.Probe, dir string, env *probe.Env) *probe.LogsResult {
	t.Helper()
	v, err := p.Collect(probe.WithRoot(context.Background(), filepath.Join(dir, "root")), env)
	if err != nil {
		t.Fatalf("logs over %s: %v", dir, err)
	}
	b, _ := json.Marshal(v)
	for _, c := range logsCanaries {
		if strings.Contains(string(b), c) {
			t.Errorf("%s: the result leaks %q", dir, c)
		}
	}
	return v.(*probe.LogsResult)
}

func TestLogs(t *testing.T) {
	for _, tc := range []struct{ name, goos string }{
		{"linux-laptop", "linux"},
		{"linux-server", "linux"},
		{"linux-container", "linux"},
		{"windows-desktop", "windows"},
		{"macos-laptop", "darwin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "logs", tc.name)
			env := &probe.Env{}
			res := collectLogs(t, newFixtureLogs(t, dir, tc.goos, probe.DefaultLogsLimits), dir, env)
			probetest.Compare(t, res, filepath.Join(dir, "expected.json"))
			if len(res.Groups) > 0 && len(probe.Scrubbed(env)) == 0 && tc.name != "linux-container" {
				t.Errorf("nothing counted as scrubbed, though the fixture plants secrets")
			}
		})
	}
}

// TestLogsLimits runs the laptop case with tiny limits: every bound holds
// and the result says what it left out.
func TestLogsLimits(t *testing.T) {
	dir := filepath.Join("testdata", "logs", "linux-laptop")
	limits := probe.LogsLimits{ToolBytes: 3000, KmsgBytes: 1500, Files: 3, Groups: 3, Events: 1, Crashes: 1, Message: 48}
	res := collectLogs(t, newFixtureLogs(t, dir, "linux", limits), dir, &probe.Env{})
	probetest.Compare(t, res, filepath.Join(dir, "expected-limited.json"))
	if !res.Truncated || len(res.Groups) != 3 || res.GroupsOmitted == 0 || res.EntriesOmitted < res.GroupsOmitted {
		t.Errorf("groups: %d listed, %d omitted (%d entries), truncated %v", len(res.Groups), res.GroupsOmitted, res.EntriesOmitted, res.Truncated)
	}
	for _, g := range res.Groups {
		if len(g.Example) > limits.Message {
			t.Errorf("example of %d bytes: %q", len(g.Example), g.Example)
		}
	}
	for _, s := range res.Sources {
		if s.Name != "apport" && !s.Truncated {
			t.Errorf("source %s not truncated under tiny limits: %+v", s.Name, s)
		}
	}
	if len(res.Crashes) != 1 || res.CrashCount < 2 || len(res.Kernel.OOMKills) != 1 || res.Kernel.Counts.OOMKills < 2 {
		t.Errorf("crashes %d of %d, OOM kills %d of %d", len(res.Crashes), res.CrashCount, len(res.Kernel.OOMKills), res.Kernel.Counts.OOMKills)
	}
}

// TestLogsHealth: the logs probe has no health variant and runs no tool
// there.
func TestLogsHealth(t *testing.T) {
	ran := false
	p := probe.NewTestLogs(probe.LogsFakes{Now: logsNow, Loc: time.UTC, GOOS: "linux", Limits: probe.DefaultLogsLimits,
		Tool: func(context.Context, int, string, ...string) ([]byte, bool, error) {
			ran = true
			return nil, false, nil
		}})
	if _, err := p.Collect(context.Background(), &probe.Env{Health: true}); err == nil || ran {
		t.Errorf("health run: %v, tool ran %v", err, ran)
	}
	if spec, ok := probe.SpecOf("logs"); !ok || !spec.Heavy {
		t.Errorf("logs is registered %+v, want heavy", spec)
	}
	p = probe.NewTestLogs(probe.LogsFakes{Now: logsNow, GOOS: "plan9", Limits: probe.DefaultLogsLimits})
	if _, err := p.Collect(context.Background(), &probe.Env{}); !errors.Is(err, probe.ErrNotAvailable) {
		t.Errorf("on a platform without readers: %v", err)
	}
}

// TestLogsHost runs the logs probe on this machine. Without systemd as
// PID 1 it says the journal is not available here, and reads the kernel
// log all the same; as root it first writes a line with a secret there,
// which must come back grouped and scrubbed.
func TestLogsHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel log is Linux's")
	}
	ident := fmt.Sprintf("sonde-logs-test-%d", os.Getpid())
	planted := false
	if os.Geteuid() == 0 {
		f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
		if err == nil {
			_, err = fmt.Fprintf(f, "<3>%s: login failed password=Hunter2-Canary-77\n", ident)
			f.Close()
		}
		planted = err == nil
	}
	p, ok := probe.New("logs")
	if !ok {
		t.Fatal("logs is not registered")
	}
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	res := v.(*probe.LogsResult)
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "Hunter2-Canary-77") {
		t.Fatal("the secret written to the kernel log is in the result")
	}
	sources := map[string]probe.LogSource{}
	for _, s := range res.Sources {
		sources[s.Name] = s
	}
	if _, err := os.Stat("/run/systemd/system"); errors.Is(err, os.ErrNotExist) {
		if j := sources["journal"]; j.Status != "not_available" || !strings.Contains(j.Error, "not available here") {
			t.Errorf("journal without systemd: %+v", j)
		}
	}
	if f, err := os.Open("/dev/kmsg"); err == nil {
		f.Close()
		if k := sources["kmsg"]; k.Status != "ok" || k.EntriesRead == 0 {
			t.Errorf("kmsg: %+v", k)
		}
	}
	if !planted {
		t.Logf("not root: no line planted in the kernel log")
		return
	}
	for _, g := range res.Groups {
		if g.Log == "kmsg" && g.Source == ident {
			if !strings.Contains(g.Example, "password=[REDACTED:config-secret]") || g.Level != "error" {
				t.Errorf("planted line: %+v", g)
			}
			return
		}
	}
	t.Errorf("the line planted in the kernel log is in no group: %s", b)
}

package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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

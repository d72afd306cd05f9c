package loadgen

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr, or stdout for help
	}{
		{nil, 2, "usage: sonde-loadgen run"},
		{[]string{"--help"}, 0, "sonde-loadgen bench"},
		{[]string{"fly"}, 2, "usage:"},
		{[]string{"run"}, 1, "--collector HOST:PORT is required"},
		{[]string{"run", "--collector", "127.0.0.1:1"}, 1, "--pin is required"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--agents", "0"}, 1, "--agents must be 1 to 100000"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--raw"}, 1, "--raw measures beside --ingest"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--ingest", "big"}, 1, "--ingest must be health or full"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--storm", "restart"}, 1, "bench restarts its own collector"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--ondemand", "5", "--key", ""}, 1, "--ondemand needs --api and --key"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--hold", "2h"}, 1, "--hold must be between 0 and 1h0m0s"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "--health-interval", "10ms"}, 1, "--health-interval must be at least 1s"},
		{[]string{"run", "--collector", "127.0.0.1:1", "--pin", "sha256:ab", "extra"}, 1, `unexpected argument "extra"`},
		{[]string{"bench", "--collector-bin", "/nonexistent/sonde-collector"}, 1, "the collector binary"},
		{[]string{"bench", "--agents", "10", "--ingest-senders", "11"}, 1, "--ingest-senders must be 1 to --agents"},
		{[]string{"bench", "--ingest-only", "--collector-bin", "/nonexistent/sonde-collector"}, 1, "the collector binary"},
		{[]string{"bench", "-h"}, 0, "-ingest-only"},
		{[]string{"bench", "--ingest-only", "--memory"}, 1, "give one"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, stdout.String(), stderr.String())
		}
	}
}

package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunTool(t *testing.T) {
	out, truncated, err := runTool(t.Context(), 1<<10, "echo", "fixed", "args")
	if err != nil || truncated || string(out) != "fixed args\n" {
		t.Errorf("echo: %q, truncated %v, %v", out, truncated, err)
	}
	// Output past the limit is cut and the tool stopped, not read to its end.
	out, truncated, err = runTool(t.Context(), 1000, "yes")
	if err != nil || !truncated || len(out) != 1000 {
		t.Errorf("yes: %d bytes, truncated %v, %v", len(out), truncated, err)
	}
	// The probe's deadline stops a tool that hangs.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := runTool(ctx, 1<<10, "sleep", "10"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sleep past the deadline: %v", err)
	}
	// A failing tool's error says what it said.
	if _, _, err := runTool(t.Context(), 1<<10, "ls", "/nonexistent-sonde"); err == nil || !strings.Contains(err.Error(), "nonexistent-sonde") {
		t.Errorf("failing tool: %v", err)
	}
	if _, _, err := runTool(t.Context(), 1<<10, "sonde-no-such-tool"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("missing tool: %v", err)
	}
	// The locale is C and nothing else of the agent's environment leaks.
	t.Setenv("SONDE_SECRET_ENV", "x")
	if out, _, _ := runTool(t.Context(), 1<<10, "env"); strings.Contains(string(out), "SONDE_SECRET_ENV") || !strings.Contains(string(out), "LC_ALL=C") {
		t.Errorf("env: %s", out)
	}
}

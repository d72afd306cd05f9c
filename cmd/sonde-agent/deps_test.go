package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentImports keeps the agent small and free of server code: it must
// not link collector packages, SQL drivers, HTML templates, an HTTP stack
// or the metrics library.
func TestAgentImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/sondehq/sonde/collector",
		"database/sql",
		"modernc.org/",
		"github.com/jackc/",
		"html/template",
		"net/http",
		"github.com/prometheus/",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list returned only %d packages; the check would prove nothing", len(deps))
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) {
				t.Errorf("sonde-agent links %s (forbidden: %s)", dep, f)
			}
		}
	}
}

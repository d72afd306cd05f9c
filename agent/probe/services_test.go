package probe_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/probetest"
)

// TestServicesSummary runs the summary over recorded service manager
// answers, so it needs neither D-Bus nor Windows.
func TestServicesSummary(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "services", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "units.json"))
			if err != nil {
				t.Fatal(err)
			}
			for golden, health := range map[string]bool{"expected.json": false, "expected-health.json": true} {
				v, err := probe.ServicesSummary(data, health)
				if err != nil {
					t.Fatal(err)
				}
				probetest.Compare(t, v, filepath.Join(dir, golden))
			}
		})
	}
}

func TestServicesCap(t *testing.T) {
	type unit struct {
		Name        string `json:"name"`
		ActiveState string `json:"active_state"`
	}
	var units []unit
	for i := range 620 {
		units = append(units, unit{fmt.Sprintf("svc%03d.service", i), "active"}, unit{fmt.Sprintf("m%03d.mount", i), "active"})
	}
	data, err := json.Marshal(map[string]any{"manager": "systemd", "units": units})
	if err != nil {
		t.Fatal(err)
	}
	v, err := probe.ServicesSummary(data, false)
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.ServicesResult)
	if r.Units != 1240 || r.ByActiveState["active"] != 1240 || len(r.Services) != 500 || r.ServicesLeft != 120 {
		t.Errorf("units %d, active %d, services %d, left off %d; want 1240, 1240, 500, 120",
			r.Units, r.ByActiveState["active"], len(r.Services), r.ServicesLeft)
	}
	if r.Services[499].Name != "svc499.service" {
		t.Errorf("last service listed is %s, want svc499.service", r.Services[499].Name)
	}
}

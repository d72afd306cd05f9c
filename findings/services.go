package findings

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sondehq/sonde/protocol"
)

func init() {
	register("services", []string{"service.failed", "service.crash-looping"}, analyzeServices)
}

// servicesData is what the services analyzer reads of the services probe:
// the failed units of the full variant, or their names in the health one.
// "failed" is a list of units in the first and a count in the second.
type servicesData struct {
	Manager     string          `json:"manager"`
	Failed      json.RawMessage `json:"failed"`
	Services    []serviceUnit   `json:"services"`
	FailedUnits []string        `json:"failed_units"`
}

type serviceUnit struct {
	Name        string `json:"name"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	ExitCode    uint32 `json:"exit_code"`
	// Restarts is systemd's NRestarts, read for failed services only.
	Restarts *uint32 `json:"restarts"`
}

// failedUnits returns doc's failed units by name, and whether the services
// probe could be read.
func failedUnits(doc *protocol.Document) (map[string]serviceUnit, *servicesData) {
	var d servicesData
	if !probe(doc, "services", &d) {
		return nil, nil
	}
	var units []serviceUnit
	if len(d.Failed) > 0 && d.Failed[0] == '[' && json.Unmarshal(d.Failed, &units) != nil {
		return nil, nil
	}
	failed := map[string]serviceUnit{}
	for _, u := range units {
		if u.Name != "" {
			failed[u.Name] = u
		}
	}
	for _, name := range d.FailedUnits {
		if _, ok := failed[name]; !ok && name != "" {
			failed[name] = serviceUnit{Name: name}
		}
	}
	return failed, &d
}

func analyzeServices(in *input) []Finding {
	failed, d := failedUnits(in.doc)
	if d == nil {
		return nil
	}
	names := make([]string, 0, len(failed))
	for name := range failed {
		names = append(names, name)
	}
	slices.Sort(names)
	onsets := failureOnsets(in, names)
	// The services list may carry a restart count the failed list lacks.
	listed := map[string]*uint32{}
	for _, s := range d.Services {
		if s.Restarts != nil {
			listed[s.Name] = s.Restarts
		}
	}
	var out []Finding
	for _, name := range names {
		u := failed[name]
		unit := clip(name)
		ev := map[string]any{"unit": unit}
		if d.Manager != "" {
			ev["manager"] = clip(d.Manager)
		}
		if u.SubState != "" {
			ev["sub_state"] = clip(u.SubState)
		}
		if u.ExitCode != 0 {
			ev["exit_code"] = u.ExitCode
		}
		restarts := u.Restarts
		if restarts == nil {
			restarts = listed[name]
		}
		if restarts != nil {
			ev["restarts"] = *restarts
		}
		if n := onsets[name]; n > 1 {
			ev["failures_seen"] = n
		}
		switch {
		case restarts != nil && *restarts >= CrashLoopRestarts:
			out = append(out, Finding{
				ID: "service.crash-looping", Severity: Critical, Subject: unit, Evidence: ev,
				Title: fmt.Sprintf("The service %s keeps crashing: restarted %d times, then gave up", unit, *restarts),
			})
		case onsets[name] >= CrashLoopFailures:
			out = append(out, Finding{
				ID: "service.crash-looping", Severity: Critical, Subject: unit, Evidence: ev,
				Title: fmt.Sprintf("The service %s keeps crashing: it failed %d separate times recently", unit, onsets[name]),
			})
		default:
			out = append(out, Finding{
				ID: "service.failed", Severity: Warning, Subject: unit, Evidence: ev,
				Title: failedTitle(d.Manager, unit),
			})
		}
	}
	return out
}

// failureOnsets counts, for each unit failed now, the times it was seen to
// fail anew, oldest snapshot first: a failed state after one in which it
// was not failed. The current failure counts as one when a history
// snapshot saw the unit not failed before it; a failure already present in
// the oldest usable snapshot counts as one too.
func failureOnsets(in *input, names []string) map[string]int {
	counts := make(map[string]int, len(names))
	if len(names) == 0 || len(in.history) == 0 {
		return counts
	}
	wasFailed := map[string]bool{}
	seen := false
	for i := len(in.history) - 1; i >= -1; i-- {
		doc := in.doc
		if i >= 0 {
			doc = in.history[i]
		}
		failed, d := failedUnits(doc)
		if d == nil {
			continue
		}
		for _, name := range names {
			_, now := failed[name]
			if now && (!seen || !wasFailed[name]) {
				counts[name]++
			}
			wasFailed[name] = now
		}
		seen = true
	}
	return counts
}

// failedTitle says what failed means for the service manager: on Windows,
// a service set to start automatically that is stopped.
func failedTitle(manager, unit string) string {
	switch {
	case manager == "scm":
		return fmt.Sprintf("The service %s is stopped although it should start automatically", unit)
	case manager == "systemd" && !strings.HasSuffix(unit, ".service"):
		return fmt.Sprintf("The system unit %s has failed", unit)
	}
	return fmt.Sprintf("The service %s has failed", unit)
}

package probe

import (
	"slices"
	"sort"
	"strings"
)

func init() {
	Register("services", Spec{Platforms: Everywhere}, newServices)
}

// maxServices bounds the services listed in a full result; counts and
// failed units are always complete.
const maxServices = 500

// ServiceUnit is one unit (systemd) or service (Windows) and its state.
type ServiceUnit struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	LoadState   string `json:"load_state,omitempty"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state,omitempty"`
	StartType   string `json:"start_type,omitempty"`
	ExitCode    uint32 `json:"exit_code,omitempty"`
	// Restarts is how often systemd restarted a failed service.
	Restarts *uint32 `json:"restarts,omitempty"`
}

// ServicesResult is the services probe's full result.
type ServicesResult struct {
	Manager string `json:"manager"`
	// SystemState is systemd's overall state: running, degraded ...
	SystemState   string         `json:"system_state,omitempty"`
	Units         int            `json:"units"`
	ByActiveState map[string]int `json:"by_active_state"`
	Failed        []ServiceUnit  `json:"failed"`
	Services      []ServiceUnit  `json:"services"`
	ServicesLeft  int            `json:"services_left_off,omitempty"`
}

// ServicesHealth is the services probe's light result.
type ServicesHealth struct {
	Manager     string   `json:"manager"`
	SystemState string   `json:"system_state,omitempty"`
	Failed      int      `json:"failed"`
	FailedUnits []string `json:"failed_units"`
}

// serviceList is what a service manager answered.
type serviceList struct {
	Manager     string        `json:"manager"`
	SystemState string        `json:"system_state,omitempty"`
	Units       []ServiceUnit `json:"units"`
}

// isService says whether a unit is a service rather than a socket, mount,
// target ...; every Windows service is one.
func (l *serviceList) isService(u *ServiceUnit) bool {
	return l.Manager != "systemd" || strings.HasSuffix(u.Name, ".service")
}

// failed says whether a unit has failed: systemd's failed state, or a
// Windows auto-start service that is stopped.
func (l *serviceList) failed(u *ServiceUnit) bool {
	if l.Manager == "systemd" {
		return u.ActiveState == "failed"
	}
	return u.ActiveState == "stopped" && strings.HasPrefix(u.StartType, "auto")
}

// summarise counts units by state and lists the failed ones and the
// services, each sorted by name.
func (l *serviceList) summarise() *ServicesResult {
	r := &ServicesResult{
		Manager:       l.Manager,
		SystemState:   l.SystemState,
		Units:         len(l.Units),
		ByActiveState: map[string]int{},
		Failed:        []ServiceUnit{},
		Services:      []ServiceUnit{},
	}
	for i := range l.Units {
		u := &l.Units[i]
		r.ByActiveState[u.ActiveState]++
		if l.failed(u) {
			r.Failed = append(r.Failed, *u)
		}
		if l.isService(u) {
			r.Services = append(r.Services, *u)
		}
	}
	sortUnits(r.Failed)
	sortUnits(r.Services)
	if len(r.Services) > maxServices {
		r.ServicesLeft = len(r.Services) - maxServices
		r.Services = r.Services[:maxServices]
	}
	return r
}

// health counts the failed units and names them, sorted.
func (l *serviceList) health() *ServicesHealth {
	h := &ServicesHealth{Manager: l.Manager, SystemState: l.SystemState, FailedUnits: []string{}}
	for i := range l.Units {
		if l.failed(&l.Units[i]) {
			h.FailedUnits = append(h.FailedUnits, l.Units[i].Name)
		}
	}
	slices.Sort(h.FailedUnits)
	h.Failed = len(h.FailedUnits)
	return h
}

// sortUnits sorts units by name. sort.Slice, not slices.SortFunc, here
// and for the probes' other lists of structs: each struct type given to a
// generic sort links a dozen functions of its own into the agent (about
// 20 KB with their tables), where sort.Slice's code is shared; seven such
// sorts cost the agent 127 KB. The lists are short.
func sortUnits(units []ServiceUnit) {
	sort.Slice(units, func(i, j int) bool { return units[i].Name < units[j].Name })
}

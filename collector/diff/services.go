package diff

import (
	"bytes"
	"encoding/json"
)

// servicesData is what the diff reads of the services probe's data. The
// full result lists the services and the failed units; the health result
// names the failed units only (and counts them in "failed").
type servicesData struct {
	Services     json.RawMessage `json:"services"`
	ServicesLeft int             `json:"services_left_off"`
	Failed       json.RawMessage `json:"failed"`
	FailedUnits  []string        `json:"failed_units"`
}

// unit is one service or unit and its state.
type unit struct {
	Name        string `json:"name"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
}

// services is one side's services, read.
type services struct {
	// list is the services by name; nil when the data has no list.
	list map[string]unit
	// last is the last name listed when the list was cut short, and the
	// list says nothing of the names after it; empty when it is complete.
	last string
	// failed is the failed units, with their states.
	failed map[string]string
}

// compareServices compares the services' states, and the units that
// failed or recovered. With the full result on both sides it also tells
// services added and removed; otherwise it compares the failed units only.
func compareServices(s *Section, p pair) {
	var a, b servicesData
	if !load(s, p, "services", &a, &b) {
		return
	}
	sa, oka := a.read()
	sb, okb := b.read()
	if !oka || !okb {
		if !oka {
			s.note("not comparable: the services data in the %s snapshot is not readable", earlier)
		}
		if !okb {
			s.note("not comparable: the services data in the %s snapshot is not readable", later)
		}
		return
	}
	if sa.list == nil || sb.list == nil {
		s.note("only failed units compared: a snapshot does not list the services")
		failedChanges(s, sa.failed, sb.failed, nil, nil, false)
		return
	}
	if sa.last != "" || sb.last != "" {
		s.note("the service lists were cut short; services beyond %q are not compared", minLast(sa.last, sb.last))
	}
	for _, name := range sortedKeys(union(sa.list, sb.list)) {
		ua, ina := sa.list[name]
		ub, inb := sb.list[name]
		switch {
		case ina && inb:
			s.value(name, ua.state(), ub.state())
		case ina && (sb.last == "" || name < sb.last):
			s.add(Change{Kind: Removed, Subject: name, Before: ua.state()})
		case inb && (sa.last == "" || name < sa.last):
			s.add(Change{Kind: Added, Subject: name, After: ub.state()})
		}
	}
	failedChanges(s, sa.failed, sb.failed, sa.list, sb.list, true)
}

// failedChanges records the units that failed or recovered, leaving out
// those the service lists already compared. With states it also records a
// failed unit whose state changed.
func failedChanges(s *Section, a, b map[string]string, listA, listB map[string]unit, states bool) {
	for _, name := range sortedKeys(union(a, b)) {
		if _, listed := listA[name]; listed {
			continue
		}
		if _, listed := listB[name]; listed {
			continue
		}
		fa, ina := a[name]
		fb, inb := b[name]
		switch {
		case ina && inb:
			if states {
				s.value(name, fa, fb)
			}
		case ina:
			s.add(Change{Kind: Changed, Subject: name, Before: fa, After: "not failed"})
		default:
			s.add(Change{Kind: Changed, Subject: name, Before: "not failed", After: fb})
		}
	}
}

// read interprets the data; false when it is not as either result has it.
func (d *servicesData) read() (services, bool) {
	r := services{failed: map[string]string{}}
	if present(d.Services) {
		var list []unit
		if !decodeList(d.Services, &list) {
			return r, false
		}
		r.list = make(map[string]unit, len(list))
		for _, u := range list {
			if _, dup := r.list[u.Name]; u.Name != "" && !dup {
				r.list[u.Name] = u
			}
			if d.ServicesLeft > 0 && u.Name > r.last {
				r.last = u.Name
			}
		}
	}
	if raw := bytes.TrimSpace(d.Failed); len(raw) > 0 && raw[0] == '[' {
		var list []unit
		if json.Unmarshal(raw, &list) != nil {
			return r, false
		}
		for _, u := range list {
			if u.Name != "" {
				r.failed[u.Name] = u.state()
			}
		}
		return r, true
	}
	for _, name := range d.FailedUnits {
		if name != "" {
			r.failed[name] = "failed"
		}
	}
	return r, true
}

// state is the unit's state as people read it: "active (running)".
func (u *unit) state() string {
	if u.SubState == "" || u.SubState == u.ActiveState {
		if u.ActiveState == "" {
			return "unknown"
		}
		return u.ActiveState
	}
	return u.ActiveState + " (" + u.SubState + ")"
}

func union[V any](a, b map[string]V) map[string]struct{} {
	m := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		m[k] = struct{}{}
	}
	for k := range b {
		m[k] = struct{}{}
	}
	return m
}

// minLast is the earlier of two cut-off names, an empty one not counting.
func minLast(a, b string) string {
	if a == "" || (b != "" && b < a) {
		return b
	}
	return a
}

package probe

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Names on systemd's bus interface.
const (
	systemdDest      = "org.freedesktop.systemd1"
	systemdPath      = dbus.ObjectPath("/org/freedesktop/systemd1")
	systemdManager   = "org.freedesktop.systemd1.Manager"
	dbusPropertyGet  = "org.freedesktop.DBus.Properties.Get"
	maxRestartsReads = 50 // failed services whose restarts are read
)

// newServices returns the systemd probe, which connects on first use.
func newServices() Probe {
	return &servicesProbe{connect: func() (*dbus.Conn, error) { return dbus.ConnectSystemBus() }}
}

// servicesProbe asks systemd over the system bus, never by running
// systemctl. It keeps its connection between runs, so that a health
// snapshot costs a round trip rather than a new authenticated connection.
type servicesProbe struct {
	connect func() (*dbus.Conn, error)
	conn    *dbus.Conn
}

// unitStatus is what the probe keeps of a ListUnits entry, an
// a(ssssssouso): name, description, load, active and sub state, followed
// unit, object path, then the queued job's id, type and path.
type unitStatus struct {
	Name, Description, LoadState, ActiveState, SubState string
	Path                                                dbus.ObjectPath
}

func (p *servicesProbe) Name() string { return "services" }

func (p *servicesProbe) Collect(ctx context.Context, env *Env) (any, error) {
	l, err := p.list(ctx, env.Health)
	if err != nil {
		return nil, err
	}
	if env.Health {
		return l.health(), nil
	}
	return l.summarise(), nil
}

// list asks systemd for its units, only the failed ones when failedOnly.
// A kept connection that fails is replaced once: the bus may have
// restarted since the last run.
func (p *servicesProbe) list(ctx context.Context, failedOnly bool) (*serviceList, error) {
	for attempt := 0; ; attempt++ {
		kept := p.conn != nil
		if !kept {
			conn, err := p.connect()
			if err != nil {
				return nil, fmt.Errorf("systemd not reachable over D-Bus: %w", err)
			}
			p.conn = conn
		}
		l, err := p.query(ctx, failedOnly)
		if err == nil {
			return l, nil
		}
		p.conn.Close()
		p.conn = nil
		if !kept || attempt > 0 || ctx.Err() != nil {
			return nil, fmt.Errorf("systemd not reachable over D-Bus: %w", err)
		}
	}
}

// query lists the units, or with failedOnly only the failed ones, and
// reads the system state.
func (p *servicesProbe) query(ctx context.Context, failedOnly bool) (*serviceList, error) {
	obj := p.conn.Object(systemdDest, systemdPath)
	stateCall := obj.GoWithContext(ctx, dbusPropertyGet, 0, nil, systemdManager, "SystemState")
	l := &serviceList{Manager: "systemd"}
	if failedOnly {
		// "running" means no unit has failed: the usual health snapshot
		// then costs this one small call.
		if err := systemState(stateCall, l); err != nil {
			return nil, fmt.Errorf("reading the system state: %w", err)
		}
		if l.SystemState == "running" {
			return l, nil
		}
	}
	var units *dbus.Call
	if failedOnly {
		units = obj.CallWithContext(ctx, systemdManager+".ListUnitsFiltered", 0, []string{"failed"})
	} else {
		// In flight together with the system state: one round trip.
		units = obj.CallWithContext(ctx, systemdManager+".ListUnits", 0)
		_ = systemState(stateCall, l)
	}
	if units.Err != nil {
		return nil, fmt.Errorf("listing units: %w", units.Err)
	}
	raw, err := decodeUnits(units.Body)
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	l.Units = make([]ServiceUnit, len(raw))
	for i, u := range raw {
		l.Units[i] = ServiceUnit{Name: u.Name, Description: u.Description, LoadState: u.LoadState,
			ActiveState: u.ActiveState, SubState: u.SubState}
	}
	if !failedOnly {
		p.restarts(ctx, raw, l)
	}
	return l, nil
}

// systemState waits for the SystemState property into l.
func systemState(call *dbus.Call, l *serviceList) error {
	var state dbus.Variant
	if err := (<-call.Done).Store(&state); err != nil {
		return fmt.Errorf("asking systemd: %w", err)
	}
	l.SystemState, _ = state.Value().(string)
	return nil
}

// decodeUnits takes ListUnits' answer apart by hand: godbus has already
// decoded each struct as a []any, and its reflective Store would double
// the cost of the probe.
func decodeUnits(body []any) ([]unitStatus, error) {
	var rows [][]any
	if len(body) == 1 {
		rows, _ = body[0].([][]any)
	}
	if rows == nil && (len(body) != 1 || body[0] == nil) {
		return nil, fmt.Errorf("unexpected answer of type %T", body)
	}
	out := make([]unitStatus, 0, len(rows))
	for _, r := range rows {
		if len(r) < 7 {
			return nil, fmt.Errorf("unit with %d fields", len(r))
		}
		var u unitStatus
		u.Name, _ = r[0].(string)
		u.Description, _ = r[1].(string)
		u.LoadState, _ = r[2].(string)
		u.ActiveState, _ = r[3].(string)
		u.SubState, _ = r[4].(string)
		u.Path, _ = r[6].(dbus.ObjectPath)
		out = append(out, u)
	}
	return out, nil
}

// restarts reads NRestarts (systemd 235 and later) of the failed services,
// all requests in flight at once; a service that does not answer keeps
// none.
func (p *servicesProbe) restarts(ctx context.Context, raw []unitStatus, l *serviceList) {
	type pending struct {
		i    int
		call *dbus.Call
	}
	var calls []pending
	for i := range l.Units {
		u := &l.Units[i]
		if !l.failed(u) || !l.isService(u) || len(calls) == maxRestartsReads {
			continue
		}
		obj := p.conn.Object(systemdDest, raw[i].Path)
		calls = append(calls, pending{i, obj.GoWithContext(ctx, dbusPropertyGet, 0, nil,
			"org.freedesktop.systemd1.Service", "NRestarts")})
	}
	for _, c := range calls {
		var v dbus.Variant
		if err := (<-c.call.Done).Store(&v); err != nil {
			continue
		}
		if n, ok := v.Value().(uint32); ok {
			l.Units[c.i].Restarts = &n
		}
	}
}

package probe

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// newServices returns the services probe of this system.
func newServices() Probe { return &servicesProbe{startTypes: map[string]string{}} }

// servicesProbe lists Windows services through the service control
// manager, opened for enumeration and queries only: the agent changes
// nothing.
type servicesProbe struct {
	// startTypes caches start types between runs: a health run only asks
	// for those of stopped services it has not seen yet.
	startTypes map[string]string
}

func (p *servicesProbe) Name() string { return "services" }

func (p *servicesProbe) Collect(ctx context.Context, env *Env) (any, error) {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("opening the service control manager: %w", err)
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()
	entries, err := enumServices(m.Handle)
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	l := &serviceList{Manager: "scm", Units: make([]ServiceUnit, 0, len(entries))}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("listing services: %w", err)
		}
		name := windows.UTF16PtrToString(e.ServiceName)
		st := e.ServiceStatusProcess
		u := ServiceUnit{Name: name, Description: windows.UTF16PtrToString(e.DisplayName),
			ActiveState: serviceStateName(st.CurrentState), ExitCode: st.Win32ExitCode}
		if !env.Health || st.CurrentState == windows.SERVICE_STOPPED {
			u.StartType = p.startType(m, name, !env.Health)
		}
		l.Units = append(l.Units, u)
	}
	if env.Health {
		return l.health(), nil
	}
	return l.summarise(), nil
}

// enumServices lists the Win32 services and their status in one call.
func enumServices(h windows.Handle) ([]windows.ENUM_SERVICE_STATUS_PROCESS, error) {
	var needed, count uint32
	var buf []byte
	for {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		err := windows.EnumServicesStatusEx(h, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_STATE_ALL, p, uint32(len(buf)), &needed, &count, nil, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ERROR_MORE_DATA) || needed <= uint32(len(buf)) {
			return nil, fmt.Errorf("EnumServicesStatusEx: %w", err)
		}
		buf = make([]byte, needed)
	}
	if count == 0 {
		return nil, nil
	}
	return unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), int(count)), nil
}

// startType returns a service's start type, from the cache unless fresh;
// "" when it cannot be read.
func (p *servicesProbe) startType(m *mgr.Mgr, name string, fresh bool) string {
	if st, ok := p.startTypes[name]; ok && !fresh {
		return st
	}
	ptr, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return ""
	}
	h, err := windows.OpenService(m.Handle, ptr, windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return ""
	}
	s := &mgr.Service{Name: name, Handle: h}
	defer s.Close()
	c, err := s.Config()
	if err != nil {
		return ""
	}
	st := startTypeName(c.StartType, c.DelayedAutoStart)
	p.startTypes[name] = st
	return st
}

// startTypeName names a start type; delayed auto-start is "auto-delayed".
func startTypeName(t uint32, delayed bool) string {
	switch t {
	case windows.SERVICE_BOOT_START:
		return "boot"
	case windows.SERVICE_SYSTEM_START:
		return "system"
	case windows.SERVICE_AUTO_START:
		if delayed {
			return "auto-delayed"
		}
		return "auto"
	case windows.SERVICE_DEMAND_START:
		return "manual"
	case windows.SERVICE_DISABLED:
		return "disabled"
	}
	return fmt.Sprint(t)
}

// serviceStateName names a service's current state in kebab case.
func serviceStateName(s uint32) string {
	switch s {
	case windows.SERVICE_STOPPED:
		return "stopped"
	case windows.SERVICE_START_PENDING:
		return "start-pending"
	case windows.SERVICE_STOP_PENDING:
		return "stop-pending"
	case windows.SERVICE_RUNNING:
		return "running"
	case windows.SERVICE_CONTINUE_PENDING:
		return "continue-pending"
	case windows.SERVICE_PAUSE_PENDING:
		return "pause-pending"
	case windows.SERVICE_PAUSED:
		return "paused"
	}
	return fmt.Sprint(s)
}

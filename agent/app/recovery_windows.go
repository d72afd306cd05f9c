package app

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// ensureRecovery sets the recovery actions of service name to restart it
// (recoveryDelays, recoveryReset), unless they are so already.
func ensureRecovery(name string) error {
	m, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return fmt.Errorf("connecting to the service manager: %w", err)
	}
	defer windows.CloseServiceHandle(m)
	// Restart actions need SERVICE_START besides SERVICE_CHANGE_CONFIG.
	h, err := windows.OpenService(m, windows.StringToUTF16Ptr(name),
		windows.SERVICE_QUERY_CONFIG|windows.SERVICE_CHANGE_CONFIG|windows.SERVICE_START)
	if err != nil {
		return fmt.Errorf("opening service %s: %w", name, err)
	}
	s := &mgr.Service{Name: name, Handle: h}
	defer s.Close()
	if current(s) {
		return nil
	}
	actions := make([]mgr.RecoveryAction, len(recoveryDelays))
	for i, d := range recoveryDelays {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	if err := s.SetRecoveryActions(actions, uint32(recoveryReset/time.Second)); err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	return nil
}

// current reports whether s already has the recovery actions; when they
// cannot be read, they are set again.
func current(s *mgr.Service) bool {
	actions, err := s.RecoveryActions()
	if err != nil {
		return false
	}
	reset, err := s.ResetPeriod()
	if err != nil {
		return false
	}
	got := make([]recoveryAction, len(actions))
	for i, a := range actions {
		got[i] = recoveryAction{restart: a.Type == mgr.ServiceRestart, delay: a.Delay}
	}
	return hasRecovery(got, time.Duration(reset)*time.Second)
}

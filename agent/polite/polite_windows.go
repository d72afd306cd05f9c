package polite

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// Thread modes of SetThreadPriority, which x/sys/windows does not name.
const (
	threadModeBackgroundBegin = 0x00010000
	threadModeBackgroundEnd   = 0x00020000
)

var procSetThreadPriority = windows.NewLazySystemDLL("kernel32.dll").NewProc("SetThreadPriority")

// lowerThread puts the calling thread in background mode: lower CPU,
// I/O and memory priority.
func lowerThread() (func() error, error) {
	if err := setThreadPriority(threadModeBackgroundBegin); err != nil {
		return nil, fmt.Errorf("SetThreadPriority(THREAD_MODE_BACKGROUND_BEGIN): %w", err)
	}
	return func() error {
		if err := setThreadPriority(threadModeBackgroundEnd); err != nil {
			return fmt.Errorf("SetThreadPriority(THREAD_MODE_BACKGROUND_END): %w", err)
		}
		return nil
	}, nil
}

// setThreadPriority calls SetThreadPriority on the current thread (its
// pseudo handle needs no closing).
func setThreadPriority(mode uintptr) error {
	h, err := windows.GetCurrentThread()
	if err != nil {
		return fmt.Errorf("GetCurrentThread: %w", err)
	}
	ok, _, err := procSetThreadPriority.Call(uintptr(h), mode)
	if ok == 0 {
		if err == nil || errors.Is(err, windows.ERROR_SUCCESS) {
			err = errors.New("failed")
		}
		return err
	}
	return nil
}

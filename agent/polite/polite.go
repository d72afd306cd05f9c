// Package polite runs the agent's on-demand work on OS threads of lowered
// CPU and I/O priority, so that a snapshot L2 asks for yields to whatever
// the person at the machine is doing. Health samples are never lowered:
// they keep their pace.
//
// The priority is a thread's, and goroutines move between threads: Lower
// locks the calling goroutine to its thread first, and its leave function
// restores the thread and unlocks it. A thread whose priority cannot be
// restored (on Linux, raising the nice value back needs CAP_SYS_NICE, which
// an agent running as a user lacks) stays locked: the goroutine ends
// locked, and the Go runtime then discards the thread instead of reusing
// it, so no lowered thread ever runs a health sample or the agent's
// network work. Threads the runtime starts while a goroutine is locked are
// made by its template thread, never by the lowered one.
//
// Goroutines a probe starts itself run at normal priority; programs it runs
// (runTool) inherit the lowered priority from the thread that starts them
// on Linux and macOS.
package polite

import (
	"fmt"
	"runtime"
)

// lower lowers the priority of the calling thread, which is locked to its
// goroutine, and returns the function that restores it (per platform).
// When it fails half way, it returns the error and the function that
// restores what it changed; nil when it changed nothing.
var lower = lowerThread

// Lower locks the calling goroutine to its OS thread and lowers the
// thread's CPU and I/O priority. Call leave on the same goroutine when the
// work is done: it restores the thread's priority and unlocks it; when
// restoring fails it leaves the goroutine locked, and returns why, so that
// the thread is discarded when the goroutine ends (the caller's goroutine
// should end soon after). When lowering fails, or the platform cannot
// lower one thread, Lower returns the error, with the thread unlocked and
// untouched when nothing changed (leave does nothing), and with leave to
// call as above when part of the lowering took.
func Lower() (leave func() error, err error) {
	runtime.LockOSThread()
	restore, err := lower()
	if restore == nil {
		runtime.UnlockOSThread()
		return func() error { return nil }, err
	}
	return func() error {
		if err := restore(); err != nil {
			return fmt.Errorf("restoring the priority of an on-demand thread (the thread is discarded): %w", err)
		}
		runtime.UnlockOSThread()
		return nil
	}, err
}

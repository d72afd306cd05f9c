package polite

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadExists reports whether this process still has thread tid.
func threadExists(tid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
	return err == nil
}

// waitGone waits up to a second for thread tid to end.
func waitGone(tid int) bool {
	for range 100 {
		if !threadExists(tid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// dropSysNice takes CAP_SYS_NICE out of the calling thread's effective
// capabilities (capabilities are a thread's on Linux): as root, it can
// then lower its priority but not raise it back, like an agent running
// as a user.
func dropSysNice() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective &^= 1 << unix.CAP_SYS_NICE
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// TestRestoreFailsKeepsThreadLocked: on a thread that may not raise its
// nice value back (no CAP_SYS_NICE), leave fails and keeps the goroutine
// locked, so the runtime discards the thread when the goroutine ends: the
// thread is gone. A thread that was restored is unlocked and kept.
func TestRestoreFailsKeepsThreadLocked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs as root, to drop CAP_SYS_NICE from one thread")
	}
	type outcome struct {
		tid             int
		lowered         int
		lowerErr, leave error
	}
	run := func(drop bool) outcome {
		var o outcome
		// Lower locks the goroutine, then lowers: the capability is
		// dropped there, on the locked thread, by the real lowering's
		// caller. The goroutine holds no lock of its own.
		lower = func() (func() error, error) {
			o.tid = unix.Gettid()
			if drop {
				if err := dropSysNice(); err != nil {
					return nil, err
				}
			}
			return lowerThread()
		}
		defer func() { lower = lowerThread }()
		done := make(chan struct{})
		go func() {
			defer close(done)
			leave, err := Lower()
			if err != nil {
				o.lowerErr = err
				return
			}
			o.lowered, _ = ThreadNice(unix.Gettid())
			o.leave = leave()
		}()
		<-done
		return o
	}
	kept := run(false)
	if kept.lowerErr != nil || kept.leave != nil || kept.lowered != Nice {
		t.Fatalf("with CAP_SYS_NICE: %+v", kept)
	}
	if nice, err := ThreadNice(kept.tid); err != nil || nice != 0 {
		t.Errorf("a restored thread: nice %d (%v), want 0", nice, err)
	}
	failed := run(true)
	if failed.tid == os.Getpid() {
		// The goroutine ran on the main thread, which the runtime cannot
		// end: it wedges it instead, and never runs anything on it again.
		// The next goroutine then runs elsewhere.
		failed = run(true)
		if failed.tid == os.Getpid() {
			t.Fatalf("the main thread ran a goroutine after one ended locked on it")
		}
	}
	if failed.lowerErr != nil || failed.lowered != Nice {
		t.Fatalf("without CAP_SYS_NICE: %+v", failed)
	}
	if !errors.Is(failed.leave, unix.EACCES) && !errors.Is(failed.leave, unix.EPERM) {
		t.Fatalf("leave without CAP_SYS_NICE: %v, want a permission error", failed.leave)
	}
	if !waitGone(failed.tid) {
		nice, _ := ThreadNice(failed.tid)
		t.Errorf("thread %d, lowered to nice %d and not restored, lives on after its goroutine ended: it went back to the runtime's pool", failed.tid, nice)
	}
}

// TestLowerFailsLeavesThreadAlone: when lowering fails and changed
// nothing, Lower unlocks the goroutine, and leave does nothing.
func TestLowerFailsLeavesThreadAlone(t *testing.T) {
	lower = func() (func() error, error) { return nil, errors.New("no") }
	defer func() { lower = lowerThread }()
	done := make(chan error)
	go func() {
		leave, err := Lower()
		if err == nil {
			done <- errors.New("Lower did not fail")
			return
		}
		done <- leave()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLowerAndRestore is what Background adds to each probe of an
// on-demand run: lock the goroutine, read, lower and restore the thread's
// nice value and I/O priority, unlock.
func BenchmarkLowerAndRestore(b *testing.B) {
	for b.Loop() {
		leave, err := Lower()
		if err != nil {
			b.Fatal(err)
		}
		if err := leave(); err != nil {
			b.Fatal(err)
		}
	}
}

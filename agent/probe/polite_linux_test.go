package probe

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sondehq/sonde/agent/polite"
)

// threadState is a thread's nice value (field 19 of its stat file) and I/O
// priority (ioprio_get).
type threadState struct {
	tid, nice, ioprio int
}

// readThread reads thread tid's state; false when the thread is gone.
func readThread(t *testing.T, tid int) (threadState, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if os.IsNotExist(err) {
		return threadState{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // from field 3 on
	nice, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Fatalf("stat of thread %d: %v", tid, err)
	}
	io, err := polite.ThreadIOPrio(tid)
	if err != nil {
		t.Fatal(err)
	}
	return threadState{tid, nice, io}, true
}

// threadProbe reports the state of the thread it runs on.
type threadProbe struct {
	t  *testing.T
	mu sync.Mutex
	// seen is what each run saw, in order.
	seen []threadState
}

func (*threadProbe) Name() string { return "thread" }

func (p *threadProbe) Collect(context.Context, *Env) (any, error) {
	st, _ := readThread(p.t, unix.Gettid())
	p.mu.Lock()
	p.seen = append(p.seen, st)
	p.mu.Unlock()
	return st.nice, nil
}

// TestBackgroundRunLowersThread: each probe of an on-demand run (Env.Background)
// runs on a thread at nice 10 and best-effort I/O level 7; the same probe
// in a health run (RunInOrder) runs at the thread's normal priority; after
// the run, the threads that ran it are back to normal, or gone.
func TestBackgroundRunLowersThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs as root, to read any thread's I/O priority")
	}
	normal, _ := readThread(t, unix.Gettid())
	lowered := threadState{nice: polite.Nice, ioprio: polite.BestEffort7}
	if normal.nice >= polite.Nice || normal.ioprio == lowered.ioprio {
		t.Fatalf("the test's own thread is lowered already: %+v", normal)
	}
	a, b := &threadProbe{t: t}, &threadProbe{t: t}
	s := testSet(map[string]Probe{"a": a, "b": b}, map[string]Spec{})
	for range 3 {
		for _, r := range s.Run(t.Context(), &Env{Background: true}, []string{"a", "b"}, time.Minute) {
			if r.Error != "" {
				t.Fatal(r.Error)
			}
		}
	}
	s.RunInOrder(t.Context(), &Env{Health: true, Background: true}, []string{"a", "b"}, time.Minute)
	s.Run(t.Context(), &Env{}, []string{"a", "b"}, time.Minute)
	for _, p := range []*threadProbe{a, b} {
		if len(p.seen) != 5 {
			t.Fatalf("%d runs seen, want 5", len(p.seen))
		}
		for i, st := range p.seen[:3] {
			if st.nice != lowered.nice || st.ioprio != lowered.ioprio {
				t.Errorf("on-demand run %d: thread %d at nice %d, I/O priority %#x; want %d, %#x", i, st.tid, st.nice, st.ioprio, lowered.nice, lowered.ioprio)
			}
			if now, ok := readThread(t, st.tid); ok && (now.nice != normal.nice || now.ioprio != normal.ioprio) {
				t.Errorf("after the runs, thread %d is at nice %d, I/O priority %#x; want %d, %#x", st.tid, now.nice, now.ioprio, normal.nice, normal.ioprio)
			}
		}
		for i, st := range p.seen[3:] {
			if st.nice != normal.nice || st.ioprio != normal.ioprio {
				t.Errorf("health or plain run %d: thread %d at nice %d, I/O priority %#x; want the normal %d, %#x", i, st.tid, st.nice, st.ioprio, normal.nice, normal.ioprio)
			}
		}
	}
}

package diff

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestTopProcessesSignal: kernel threads (by their parent, kthreadd, or by
// name when an older snapshot has no parent) and processes younger than a
// minute never enter the top process changes; a real newcomer does.
func TestTopProcessesSignal(t *testing.T) {
	captured := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	proc := func(pid, ppid int, name, cmdline string, age time.Duration) string {
		return fmt.Sprintf(`{"pid":%d,"ppid":%d,"name":%q,"cmdline":%q,"started":%d}`, pid, ppid, name, cmdline, captured.Add(-age).Unix())
	}
	top := func(list ...string) string {
		s := `{"top_cpu":[`
		for i, p := range list {
			if i > 0 {
				s += ","
			}
			s += p
		}
		return s + `],"top_memory":[]}`
	}
	from := doc("processes", top(proc(900, 1, "firefox", "/usr/lib/firefox/firefox", 3*time.Hour)))
	to := doc("processes", top(
		proc(900, 1, "firefox", "/usr/lib/firefox/firefox", 3*time.Hour),
		proc(4242, 1, "reportgen", "reportgen --job nightly", 10*time.Minute),
		proc(77, 2, "kworker/R-rcu_gp", "", time.Hour),
		proc(2, 0, "kthreadd", "", time.Hour),
		`{"pid":31,"name":"ksoftirqd/3"}`, // an older snapshot: no parent, no command line
		proc(5150, 4242, "gcc", "gcc -O2 x.c", 5*time.Second),
	))
	from.CapturedAt, to.CapturedAt = captured.Add(-time.Hour), captured
	got := changesOf(Compare(from, to), SectionProcesses)
	want := []Change{{Kind: Added, Subject: "top process", After: "reportgen"}}
	if !slices.Equal(got, want) {
		t.Errorf("changes %+v, want %+v", got, want)
	}
}

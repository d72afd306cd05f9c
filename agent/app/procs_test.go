package app

import (
	"runtime"
	"testing"
)

// TestOneProcessor: the agent runs on one processor unless GOMAXPROCS in
// its environment says otherwise.
func TestOneProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	t.Setenv("GOMAXPROCS", "")
	oneProcessor()
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS %d with none set, want 1", n)
	}
	runtime.GOMAXPROCS(2)
	t.Setenv("GOMAXPROCS", "2")
	oneProcessor()
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS %d with GOMAXPROCS=2 set, want 2", n)
	}
}

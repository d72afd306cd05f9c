package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// stuckProbe stays in Collect until release is closed, as a probe stuck
// in a system call does, whatever its context says; entered counts the
// calls.
type stuckProbe struct {
	entered chan struct{}
	release chan struct{}
}

func (stuckProbe) Name() string { return "stuck" }

func (p stuckProbe) Collect(context.Context, *Env) (any, error) {
	p.entered <- struct{}{}
	<-p.release
	return "late", nil
}

// panicProbe panics.
type panicProbe struct{}

func (panicProbe) Name() string { return "panics" }

func (panicProbe) Collect(context.Context, *Env) (any, error) { panic("boom") }

// failProbe fails.
type failProbe struct{}

func (failProbe) Name() string { return "fails" }

func (failProbe) Collect(context.Context, *Env) (any, error) { return nil, errors.New("no such file") }

// TestRunInOrderAsRun: RunInOrder gives what Run gives, in the order
// asked: data, errors, panics and unknown names reported in their own
// results, scrubs counted in their own.
func TestRunInOrderAsRun(t *testing.T) {
	s := testSet(map[string]Probe{
		"secrets": textProbe{"backup --password=hunter2-Wibble-77 /srv"},
		"plain":   textProbe{"bash -c true"},
		"panics":  panicProbe{},
		"fails":   failProbe{},
	}, map[string]Spec{})
	names := []string{"plain", "panics", "nope", "secrets", "fails"}
	got := s.RunInOrder(t.Context(), &Env{}, names, time.Minute)
	want := s.Run(t.Context(), &Env{}, names, time.Minute)
	if len(got) != len(names) {
		t.Fatalf("%d results for %d probes", len(got), len(names))
	}
	for i, r := range got {
		w := want[i]
		if r.Name != names[i] || string(r.Data) != string(w.Data) || !slices.Equal(r.Scrubbed, w.Scrubbed) ||
			strings.SplitN(r.Error, "\n", 2)[0] != strings.SplitN(w.Error, "\n", 2)[0] {
			t.Errorf("result %d: %+v, Run gives %+v", i, r, w)
		}
	}
	if !strings.HasPrefix(got[1].Error, "probe panicked: boom") || got[2].Error != "unknown probe" || got[4].Error != "no such file" {
		t.Errorf("errors: %q, %q, %q", got[1].Error, got[2].Error, got[4].Error)
	}
	if got[3].Scrubbed == nil || strings.Contains(string(got[3].Data), "hunter2") {
		t.Errorf("secrets: data %s, scrubbed %+v", got[3].Data, got[3].Scrubbed)
	}
	if got[0].Duration <= 0 {
		t.Errorf("no duration: %+v", got[0])
	}
}

// TestRunInOrderPastTimeout: a probe stuck past its timeout is reported as
// timed out and the probes after it still run; while it stays stuck, the
// next call does not enter it again and reports it timed out too.
func TestRunInOrderPastTimeout(t *testing.T) {
	stuck := stuckProbe{entered: make(chan struct{}, 2), release: make(chan struct{})}
	defer close(stuck.release) // the stuck calls end with the test
	s := testSet(map[string]Probe{"stuck": stuck, "a": textProbe{"a"}, "b": textProbe{"b"}}, map[string]Spec{})
	const timeout = 200 * time.Millisecond
	for call := range 2 {
		got := s.RunInOrder(t.Context(), &Env{}, []string{"a", "stuck", "b"}, timeout)
		if string(got[0].Data) != `["a"]` || string(got[2].Data) != `["b"]` || got[0].Error != "" || got[2].Error != "" {
			t.Errorf("call %d: the probes around the stuck one: %+v, %+v", call, got[0], got[2])
		}
		if got[1].Error != "timed out after 200ms" || got[1].Data != nil || time.Duration(got[1].Duration) < timeout {
			t.Errorf("call %d: the stuck probe: %+v", call, got[1])
		}
	}
	if n := len(stuck.entered); n != 1 {
		t.Errorf("the stuck probe was entered %d times, want once", n)
	}
}

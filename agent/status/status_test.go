package status

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestRoundTrip: what the agent writes is what status reads, to the
// nanosecond, readable by every local user; a missing file says so.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no file: %v", err)
	}
	now := time.Now()
	for _, s := range []*Status{
		{PID: 42, Version: "v1.2.3", Started: now.Add(-time.Hour), Collector: "collector.example.net:7443", Since: now.Add(-time.Minute),
			Updated: now, Connected: true, Transport: "QUIC"},
		{PID: 42, Started: now.Add(-time.Hour), Collector: "collector.example.net:7443", Since: now,
			Updated: now, Error: "connecting to collector.example.net:7443: timeout: no recent network activity"},
		{PID: 42, Collector: "c:7443", Stopped: true},
	} {
		if err := Write(dir, s); err != nil {
			t.Fatal(err)
		}
		got, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Since.Equal(s.Since) || !got.Started.Equal(s.Started) || !got.Updated.Equal(s.Updated) {
			t.Fatalf("times: got %+v, want %+v", got, s)
		}
		got.Since, got.Started, got.Updated = s.Since, s.Started, s.Updated
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("read %+v, wrote %+v", got, s)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil || fi.Mode().Perm() != Mode {
		t.Fatalf("status file: %v, mode %v", err, fi.Mode())
	}
	os.WriteFile(filepath.Join(dir, File), []byte("{not json"), 0o644)
	if _, err := Read(dir); err == nil {
		t.Fatal("a damaged file reads without error")
	}
}

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if Alive(0) || Alive(-1) {
		t.Error("pid 0 or -1 is alive")
	}
}

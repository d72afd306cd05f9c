package client

import (
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/internal/transport"
)

// TestReport: the status file follows the connection state, and is
// written only when it changes.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	c := &Client{ID: &state.Identity{Config: state.Config{Collector: "collector.example.net:7443"}},
		Log: slog.New(slog.DiscardHandler), StatusDir: dir}
	c.status = status.Status{PID: os.Getpid(), Collector: c.ID.Collector}
	read := func() *status.Status {
		t.Helper()
		s, err := status.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	c.report(nil, nil)
	first := read()
	if first.Connected || first.Error != "" || first.Since.IsZero() || first.PID != os.Getpid() {
		t.Fatalf("starting: %+v", first)
	}
	refused := errors.New("connecting to collector.example.net:7443: connection refused")
	c.report(nil, refused)
	down := read()
	if down.Error != refused.Error() || !down.Since.Equal(first.Since) {
		t.Fatalf("after a failed dial: %+v (the agent has been without a connection since it started)", down)
	}
	os.Remove(dir + "/" + status.File)
	c.report(nil, refused) // no change: not written
	if _, err := status.Read(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an unchanged state was written again: %v", err)
	}
	time.Sleep(time.Millisecond)
	c.report(kindConn{kind: transport.KindQUIC}, nil)
	up := read()
	if !up.Connected || up.Transport != "QUIC" || up.Error != "" || !up.Since.After(first.Since) {
		t.Fatalf("connected: %+v", up)
	}
	c.report(kindConn{kind: transport.KindTCP}, nil)
	if tcp := read(); !tcp.Connected || tcp.Transport != "TCP" || !tcp.Since.Equal(up.Since) {
		t.Fatalf("connected over TCP: %+v", tcp)
	}
	c.stopped()
	if s := read(); !s.Stopped || s.Connected {
		t.Fatalf("stopped: %+v", s)
	}

	c.StatusDir = ""
	c.report(kindConn{kind: transport.KindQUIC}, nil) // no status dir: nothing to do, no panic
}

// kindConn is a connection that only tells its kind.
type kindConn struct {
	transport.Conn
	kind string
}

func (k kindConn) Kind() string { return k.kind }

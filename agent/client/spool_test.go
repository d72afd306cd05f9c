package client

import (
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// TestFaultSnapshotSpooled: a fault seen while disconnected becomes one
// full snapshot marked with its trigger in the spool, at most once per
// faultEvery for each trigger.
func TestFaultSnapshotSpooled(t *testing.T) {
	old := faultProbeTimeout
	faultProbeTimeout = time.Second
	t.Cleanup(func() { faultProbeTimeout = old })
	sp, err := spool.Open(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{
		ID:     &state.Identity{Config: state.Config{AgentID: "agent-1", Collector: "127.0.0.1:9"}},
		Probes: probe.NewSet(),
		Log:    slog.New(slog.DiscardHandler),
		Spool:  sp,
		faults: map[string]time.Time{},
	}
	c.bootEpoch = time.Now().UnixMilli()
	c.replayNow = make(chan struct{}, 1)
	cause := errors.New("connecting to 127.0.0.1:9: timeout: no recent network activity")
	c.fault(t.Context(), TriggerUnreachable, cause)
	c.fault(t.Context(), TriggerUnreachable, cause) // rate-limited
	snap, _, err := sp.Next()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Trigger != TriggerUnreachable || snap.Kind != protocol.KindFull || len(snap.Probes) != len(c.Probes.Default()) {
		t.Fatalf("spooled snapshot: trigger %q, kind %s, %d probes", snap.Trigger, snap.Kind, len(snap.Probes))
	}
	if err := snap.Validate(); err != nil {
		t.Fatalf("fault snapshot does not validate: %v", err)
	}
	// The snapshot reports why the collector is unreachable, without
	// trying a handshake bound to fail.
	for _, p := range snap.Probes {
		var d struct {
			Collector struct {
				Handshake struct{ Error string } `json:"handshake"`
			} `json:"collector"`
		}
		if p.Name == "network" && (json.Unmarshal(p.Data, &d) != nil || d.Collector.Handshake.Error != cause.Error()) {
			t.Errorf("network probe's handshake: %s", p.Data)
		}
	}
	if n, _, _, _ := sp.Stats(); n != 1 {
		t.Fatalf("%d records in the spool, want 1 (rate limit)", n)
	}
}

func TestHealthFaults(t *testing.T) {
	health := func(h probe.NetworkHealth) *protocol.Snapshot {
		b, _ := json.Marshal(h)
		return &protocol.Snapshot{Probes: []protocol.ProbeResult{{Name: "cpu"}, {Name: "network", Data: b}}}
	}
	if got := healthFaults(health(probe.NetworkHealth{DefaultRoute: true, Resolvers: 2})); len(got) != 0 {
		t.Fatalf("healthy network: %v", got)
	}
	got := healthFaults(health(probe.NetworkHealth{}))
	if !slices.Contains(got, TriggerNoResolvers) || slices.Contains(got, TriggerNoDefaultRoute) != (runtime.GOOS == "linux") {
		t.Fatalf("no route, no resolvers: %v", got)
	}
	if got := healthFaults(&protocol.Snapshot{Probes: []protocol.ProbeResult{{Name: "network", Error: "boom"}}}); len(got) != 0 {
		t.Fatalf("failed probe: %v", got)
	}
	for _, tr := range []string{TriggerUnreachable, TriggerNoDefaultRoute, TriggerNoResolvers} {
		if !protocol.ValidTrigger(tr) {
			t.Errorf("trigger %q is not valid", tr)
		}
	}
}

// TestServiceFailed: a service that fails while the agent watches is a
// fault; one failed before it started, or still failed, is not.
func TestServiceFailed(t *testing.T) {
	health := func(units ...string) *protocol.Snapshot {
		b, _ := json.Marshal(probe.ServicesHealth{FailedUnits: append([]string{}, units...)})
		return &protocol.Snapshot{Probes: []protocol.ProbeResult{{Name: "services", Data: b}}}
	}
	c := &Client{}
	for i, tt := range []struct {
		snap *protocol.Snapshot
		want bool
	}{
		{health("cups.service"), false}, // failed before the agent started
		{health("cups.service"), false},
		{health("cups.service", "sshd.service"), true},
		{health("sshd.service"), false},
		{&protocol.Snapshot{Probes: []protocol.ProbeResult{{Name: "services", Error: "no system bus"}}}, false},
		{health(), false},
		{health("sshd.service"), true},
	} {
		if got := c.serviceFailed(tt.snap); got != tt.want {
			t.Errorf("snapshot %d: serviceFailed = %v, want %v", i, got, tt.want)
		}
	}
	if !protocol.ValidTrigger(TriggerServiceFailed) {
		t.Error("invalid trigger")
	}
}

func TestRefused(t *testing.T) {
	for code, want := range map[uint16]bool{
		protocol.CodeBadRequest: true, protocol.CodeTooLarge: true,
		protocol.CodeInternal: false, protocol.CodeUnavailable: false,
	} {
		if got := refused(&protocol.Error{Code: code}); got != want {
			t.Errorf("code %d: refused %v, want %v", code, got, want)
		}
	}
	if refused(errors.New("timeout")) || refused(errNotConnected) {
		t.Error("a transport error counts as a refusal")
	}
}

// TestSpoolReplayed: once connected, the client sends what its spool
// holds (records left by an earlier run, read from disk, and its own
// health snapshot, held in memory), each as it was spooled, and removes
// each once acknowledged.
func TestSpoolReplayed(t *testing.T) {
	tc := startTestCollector(t)
	tc.snaps = make(chan *protocol.Snapshot, 16)
	dir := t.TempDir()
	earlier, err := spool.Open(dir, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	left := map[uint64]*protocol.Snapshot{}
	for seq := uint64(1); seq <= 3; seq++ {
		m := &protocol.Snapshot{Kind: protocol.KindHealth, AgentID: tc.id.AgentID, BootEpoch: 1, Seq: seq, CapturedAt: 1700000000000,
			Probes: []protocol.ProbeResult{{Name: "cpu", Data: []byte(`{"usage_percent":1}`), Duration: 1}}}
		if err := earlier.Put(m); err != nil {
			t.Fatal(err)
		}
		left[seq] = m
	}
	sp, err := spool.Open(dir, 0, slog.New(slog.DiscardHandler)) // a restart
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), HealthInterval: time.Hour, Spool: sp}
	runUntilEnd(t, c)
	own := 0
	for i := range 4 {
		select {
		case got := <-tc.snaps:
			if got.BootEpoch == 1 {
				if !reflect.DeepEqual(got, left[got.Seq]) {
					t.Fatalf("spooled snapshot %d not delivered as spooled", got.Seq)
				}
				delete(left, got.Seq)
				continue
			}
			own++
			if got.Kind != protocol.KindHealth || got.BootEpoch != c.bootEpoch || len(got.Probes) != len(probe.HealthProbes) {
				t.Fatalf("the client's own health snapshot: kind %s, epoch %d, %d probes", got.Kind, got.BootEpoch, len(got.Probes))
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d snapshots delivered, want 4", i)
		}
	}
	if len(left) != 0 || own != 1 {
		t.Fatalf("spooled snapshots not delivered: %v; %d of the client's own", left, own)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, _, _ := sp.Stats()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records left in the spool after their acks", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

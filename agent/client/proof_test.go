package client

import (
	"bytes"
	"crypto/ed25519"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/protocol"
)

// syncBuffer is a log destination safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWrongRequestKeyHearsNothing is a party holding the collector's CA
// and certificate but not its request key (a TLS-terminating front end, a
// stolen certificate): over several connections, each after a failed one
// that made the agent take a fault snapshot, and with health snapshots
// spooled all along, it hears a hello without facts on each connection and
// nothing else at all. The agent's log and status file say why.
func TestWrongRequestKeyHearsNothing(t *testing.T) {
	old := faultProbeTimeout
	faultProbeTimeout = time.Second
	t.Cleanup(func() { faultProbeTimeout = old })
	tc := startTestCollector(t)
	_, tc.requestKey, _ = ed25519.GenerateKey(nil) // not the key the agent enrolled with
	tc.heard = make(chan protocol.Message, 1024)
	sp, err := spool.Open(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	statusDir := t.TempDir()
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Facts: protocol.Facts{Hostname: "secret-host", OS: "linux"}, HealthInterval: 200 * time.Millisecond,
		Spool: sp, StatusDir: statusDir}
	runUntilEnd(t, c)

	var hellos []*protocol.Hello
	deadline := time.After(30 * time.Second)
	// Three hellos: the third comes after the fault snapshot the first
	// failure made had time to be spooled, and after health snapshots.
	for len(hellos) < 3 {
		select {
		case m := <-tc.heard:
			h, ok := m.(*protocol.Hello)
			if !ok {
				t.Fatalf("the collector without the request key heard a %s: %+v", m.Type(), m)
			}
			hellos = append(hellos, h)
		case <-deadline:
			t.Fatalf("%d hellos in 30 s, want 3", len(hellos))
		}
	}
	// Time for anything the agent would send after the third hello; a
	// later connection's hello may come too, nothing else.
	time.Sleep(500 * time.Millisecond)
	for len(tc.heard) > 0 {
		m := <-tc.heard
		if _, ok := m.(*protocol.Hello); !ok {
			t.Fatalf("the collector without the request key heard a %s: %+v", m.Type(), m)
		}
		hellos = append(hellos, m.(*protocol.Hello))
	}
	// Every stream carried a hello (one may be opened, its hello not yet
	// read).
	if n := int(tc.streams.Load()); n != len(hellos) && n != len(hellos)+1 {
		t.Errorf("the agent opened %d streams for %d hellos", n, len(hellos))
	}
	if records, _, _, _ := sp.Stats(); records == 0 {
		t.Error("nothing was spooled: the test shows nothing held back")
	}
	seen := map[string]bool{}
	for i, h := range hellos {
		if h.Facts != (protocol.Facts{}) || h.Probes != nil || h.BootEpoch != 0 {
			t.Errorf("hello %d tells of the machine: facts %+v, probes %v, boot epoch %d", i, h.Facts, h.Probes, h.BootEpoch)
		}
		if len(h.Challenge) != protocol.ChallengeLen || seen[string(h.Challenge)] {
			t.Errorf("hello %d: challenge %x, want %d fresh bytes", i, h.Challenge, protocol.ChallengeLen)
		}
		seen[string(h.Challenge)] = true
	}
	const why = "the collector did not prove it holds the request key; nothing was sent"
	if !strings.Contains(logs.String(), why) {
		t.Errorf("the log does not say %q:\n%s", why, logs.String())
	}
	st, err := status.Read(statusDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Connected || !strings.Contains(st.Error, why) {
		t.Errorf("status: connected %v, error %q; want not connected, saying %q", st.Connected, st.Error, why)
	}
}

// TestHonestCollectorHearsFacts: with the right request key the facts
// follow the welcome on the hello's stream.
func TestHonestCollectorHearsFacts(t *testing.T) {
	tc := startTestCollector(t)
	tc.heard = make(chan protocol.Message, 1024)
	facts := protocol.Facts{Hostname: "web-01", OS: "linux"}
	c := &Client{ID: tc.id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), Facts: facts, HealthInterval: time.Hour}
	runUntilEnd(t, c)
	// The introduce follows the welcome on the hello's stream; a health
	// snapshot, on a stream of its own, may be read first by the
	// collector's other goroutine, so the order past the hello is not
	// asserted here (TestWrongRequestKeyHearsNothing holds what comes
	// before the proof).
	var got []protocol.Message
	var intro *protocol.Introduce
	for intro == nil {
		select {
		case m := <-tc.heard:
			got = append(got, m)
			intro, _ = m.(*protocol.Introduce)
		case <-time.After(20 * time.Second):
			t.Fatalf("heard %d messages and no introduce", len(got))
		}
	}
	h, ok := got[0].(*protocol.Hello)
	if !ok || h.Facts != (protocol.Facts{}) {
		t.Fatalf("first message %s, want a hello without facts", got[0].Type())
	}
	if intro.Facts != facts || intro.BootEpoch == 0 || len(intro.Probes) != len(c.Probes.Names()) {
		t.Fatalf("introduce %+v, want the facts, the boot epoch and the probes", intro)
	}
}

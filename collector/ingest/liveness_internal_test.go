package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sondehq/sonde/internal/transport"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/protocol"
)

// TestHeard keeps the time the packet count last moved, not the time it
// was last looked at.
func TestHeard(t *testing.T) {
	var h heard
	t0 := time.Unix(1000, 0)
	steps := []struct {
		packets uint64
		at      time.Time
		want    time.Time
	}{
		{5, t0, t0}, // the baseline
		{5, t0.Add(time.Second), t0},
		{5, t0.Add(9 * time.Second), t0},
		{6, t0.Add(10 * time.Second), t0.Add(10 * time.Second)},
		{6, t0.Add(20 * time.Second), t0.Add(10 * time.Second)},
	}
	for i, s := range steps {
		if got := h.update(s.packets, s.at); !got.Equal(s.want) {
			t.Errorf("step %d: update(%d, %s) = %s, want %s", i, s.packets, s.at, got, s.want)
		}
	}
}

func TestNotAnsweringError(t *testing.T) {
	err := fmt.Errorf("asking: %w", &NotAnsweringError{Agent: "a1", Silent: 7400 * time.Millisecond})
	if !errors.Is(err, ErrNotAnswering) || errors.Is(err, ErrOffline) {
		t.Errorf("%v: Is(ErrNotAnswering) %v, Is(ErrOffline) %v", err, errors.Is(err, ErrNotAnswering), errors.Is(err, ErrOffline))
	}
	if want := "asking: agent a1 is not answering (last heard 7 s ago)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// BenchmarkLastHeard is what trackHeard spends on one connection each
// heardTick: a look at its counters and the update.
func BenchmarkLastHeard(b *testing.B) {
	ca, _, err := pki.LoadOrCreate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{protocol.ALPN}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conn, err := tquic.Dial(b.Context(), ln.Addr().String(),
		&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", NextProtos: []string{protocol.ALPN}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	ac := &agentConn{id: "bench", conn: conn}
	for b.Loop() {
		ac.lastHeard()
	}
}

// TestAnswerWait: a request waits six probe timeouts (RFC 9002: smoothed
// RTT, four mean deviations but at least a millisecond, the agent's
// 25 ms ack delay) for any packet, and never less than minAnswerWait
// (3 s in production); a liveness sped up for tests divides both.
func TestAnswerWait(t *testing.T) {
	fast := liveness{minAnswerWait: 600 * time.Millisecond, ptoDiv: 5}
	for _, c := range []struct {
		lv   *liveness
		st   transport.Stats
		want time.Duration
	}{
		{&productionLiveness, transport.Stats{SmoothedRTT: time.Second, MeanDeviation: 100 * time.Millisecond}, 6 * (time.Second + 400*time.Millisecond + 25*time.Millisecond)},
		{&productionLiveness, transport.Stats{SmoothedRTT: time.Second, MeanDeviation: 100 * time.Microsecond}, 6 * (time.Second + time.Millisecond + 25*time.Millisecond)},
		{&productionLiveness, transport.Stats{SmoothedRTT: 2 * time.Second}, 6 * (2*time.Second + time.Millisecond + 25*time.Millisecond)},
		{&productionLiveness, transport.Stats{SmoothedRTT: 10 * time.Millisecond}, 3 * time.Second},
		{&fast, transport.Stats{SmoothedRTT: time.Second, MeanDeviation: 100 * time.Millisecond}, 6 * (time.Second + 400*time.Millisecond + 25*time.Millisecond) / 5},
		{&fast, transport.Stats{SmoothedRTT: 10 * time.Millisecond}, 600 * time.Millisecond},
	} {
		if got := c.lv.answerWait(c.st); got != c.want {
			t.Errorf("%+v: answerWait(%+v) = %v, want %v", *c.lv, c.st, got, c.want)
		}
	}
}

// TestProductionLiveness pins the times a production collector keeps
// liveness by (liveness.go), which the liveness tests run divided by a
// factor (SpeedUpLiveness): the collector's 12 s idle timeout offer,
// 10 s of silence (two of the agents' 5 s keep-alive periods) to call an
// agent dead, 3 s at least for a first packet after a request, heard at
// 1 s and watched at 100 ms, probe timeouts undivided; and that a Server
// is given them.
func TestProductionLiveness(t *testing.T) {
	want := liveness{
		idle:          12 * time.Second,
		silentAfter:   10 * time.Second,
		heardTick:     time.Second,
		minAnswerWait: 3 * time.Second,
		answerPoll:    100 * time.Millisecond,
		ptoDiv:        1,
	}
	if productionLiveness != want {
		t.Errorf("production liveness %+v, want %+v", productionLiveness, want)
	}
	ca, _, err := pki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Hosts: []string{"127.0.0.1"}, CA: ca, Store: noRevocations{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cfg.live != want {
		t.Errorf("a Server keeps liveness by %+v, want production's %+v", s.cfg.live, want)
	}
}

// noRevocations is a store that Listen can start with: it knows of no
// revoked agent, and nothing else is asked of it.
type noRevocations struct{ store.Store }

func (noRevocations) Revoked(context.Context) ([]string, error) { return nil, nil }

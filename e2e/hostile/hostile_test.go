//go:build linux

package hostile

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// Each case below was reproduced against the agent before its fix (issue
// 21, "A collector that turns hostile"); the figures in the comments are
// what the agent did then.

// TestHealthIntervalBounded: a welcome asking for a health snapshot every
// nanosecond made the agent take 10,934 of them in 20 s at 113-122 % CPU,
// and fill its spool past its cap once the collector was gone. The agent
// takes no interval under 10 s.
func TestHealthIntervalBounded(t *testing.T) {
	r := newRig(t)
	h := r.startHostile(t, r.requestKey, time.Nanosecond)
	r.startAgent(t)
	h.conn(t)
	before := r.usage(t)
	const window = 15 * time.Second
	time.Sleep(window)
	after := r.usage(t)
	msgs, _ := h.received()
	health := 0
	for _, m := range msgs {
		if s, ok := m.(*protocol.Snapshot); ok && s.Kind == protocol.KindHealth {
			health++
		}
	}
	t.Logf("in %s: %d health snapshots, agent CPU %s", window, health, after.cpu-before.cpu)
	if health > 3 {
		t.Errorf("%d health snapshots in %s at an interval of at least 10 s", health, window)
	}
	if cpu := after.cpu - before.cpu; cpu > window/20 {
		t.Errorf("the agent used %s of CPU in %s (more than 5 %% of a core)", cpu, window)
	}

	// With the collector gone, the spool takes the health snapshots at the
	// same bounded pace.
	h.close()
	time.Sleep(12 * time.Second)
	use, files := diskUse(t, r.state)
	t.Logf("state dir with the collector gone: %d files, %d KiB on disk", files, use>>10)
	if files > 40 || use > 2<<20 {
		t.Errorf("the state dir holds %d files, %d KiB on disk, 12 s after the collector went", files, use>>10)
	}
	r.backToHonest(t, h)
}

// TestInflatingRequestsRefused: a snapshot request of under 16 KiB on the
// wire that inflates to megabytes. Each used to be inflated to 32 MiB
// (1,281 in 20 s: 185 % CPU, a 426 MiB peak); the agent stops at the
// request's own limit, 16 KiB decoded.
func TestInflatingRequestsRefused(t *testing.T) {
	r := newRig(t)
	h := r.startHostile(t, r.requestKey, time.Hour)
	r.startAgent(t)
	conn := h.conn(t)
	frame := inflatingFrame(t, protocol.TypeSnapshotRequest)
	before := r.usage(t)
	const n = 400
	refused := flood(t, n, 8, func(i int) bool {
		m, err := h.askRaw(t.Context(), conn, frame, "")
		var e *protocol.Error
		if err == nil {
			e, _ = m.(*protocol.Error)
		}
		return e != nil && e.Code == protocol.CodeBadRequest && strings.Contains(e.Message, "limit 16 KiB")
	})
	after := r.usage(t)
	t.Logf("%d frames of %d bytes: %d refused for their size; agent CPU %s, peak RSS %d -> %d KiB",
		n, len(frame), refused, after.cpu-before.cpu, before.peak>>10, after.peak>>10)
	if refused != n {
		t.Errorf("%d of %d inflating requests refused for their size", refused, n)
	}
	if grew := after.peak - before.peak; grew > 8<<20 {
		t.Errorf("the agent's peak RSS grew by %d KiB", grew>>10)
	}
	if cpu := after.cpu - before.cpu; cpu > 2*time.Second {
		t.Errorf("the agent used %s of CPU on %d refusals", cpu, n)
	}
	r.backToHonest(t, h)
}

// inflatingFrame is a frame of type typ whose deflated payload is just
// under the type's limit on the wire and inflates to a thousand times that.
func inflatingFrame(t *testing.T, typ protocol.Type) []byte {
	t.Helper()
	lim := protocol.LimitsOf(typ)
	var payload bytes.Buffer
	w, _ := flate.NewWriter(&payload, flate.BestCompression)
	zeros := make([]byte, 64<<10)
	for payload.Len() < lim.Wire-1024 {
		w.Write(zeros)
		w.Flush()
	}
	w.Close()
	hdr := []byte{'S', protocol.Version, byte(typ), protocol.FlagDeflate}
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(payload.Len()))
	if _, err := protocol.ParseHeader(hdr); err != nil {
		t.Fatalf("the frame's header is refused before its payload: %v", err)
	}
	return append(hdr, payload.Bytes()...)
}

// flood runs do(0..n-1) on workers goroutines and counts the trues.
func flood(t *testing.T, n, workers int, do func(i int) bool) int {
	t.Helper()
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if do(i) {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

// TestReceiptsHold: a collector's error text with terminal escapes used to
// reach the user's terminal through `sonde-agent receipts` (lines erased,
// "not delivered" shown for data that left), and a flood of valid requests
// rotated the receipts until ticket INC-1's was gone. The receipt says
// what left from the agent's own count, prints the text as visible
// escapes, and a summary keeps INC-1 once the log has rotated twice (the
// first rotation keeps it in receipts.log.1). The same flood,
// of requests each with its own nonce, checks the replay store's bound:
// it used to grow from 24 to 40 MiB in a minute.
func TestReceiptsHold(t *testing.T) {
	r := newRig(t)
	h := r.startHostile(t, r.requestKey, time.Hour)
	r.startAgent(t)
	conn := h.conn(t)
	const lie = "\x1b[2K\x1b[1Anot delivered\u009b2K"
	m, err := h.ask(t.Context(), conn, h.request(t, "rq-inc-1", "INC-1", time.Minute, "time"), lie)
	if _, ok := m.(*protocol.Snapshot); err != nil || !ok {
		t.Fatalf("the request for INC-1 was answered %s (err %v)", describe(m), err)
	}
	out := receipts(t, r)
	if strings.ContainsAny(out, "\x1b\u009b") {
		t.Fatalf("a terminal escape reached the output:\n%q", out)
	}
	if line := lineWith(out, "INC-1"); !strings.Contains(line, "yes") || !strings.Contains(line, `\x1b[2K`) {
		t.Errorf("INC-1's receipt: %q, want it to say the snapshot left (yes) and show the escapes as text", line)
	}

	summary := filepath.Join(state.PublicDir(r.state), "receipts-summary.json")
	before := r.usage(t)
	var answered atomic.Int64
	const most = 20000
	flood(t, most, 16, func(i int) bool {
		if _, err := os.Stat(summary); err == nil {
			return false
		}
		// Later expiries as it goes: the replay store holds 4,096 nonces
		// and, full, refuses what expires before those it forgot.
		life := time.Minute + time.Duration(i)*25*time.Millisecond
		m, err := h.ask(t.Context(), conn, h.request(t, "rq-flood", "FLOOD", life, "time"), "")
		if _, ok := m.(*protocol.Snapshot); err == nil && ok {
			answered.Add(1)
			return true
		}
		return false
	})
	after := r.usage(t)
	t.Logf("flood: %d requests answered; agent CPU %s, peak RSS %d -> %d KiB", answered.Load(), after.cpu-before.cpu, before.peak>>10, after.peak>>10)
	if _, err := os.Stat(summary); err != nil {
		t.Fatalf("the receipts did not rotate after %d requests: %v", answered.Load(), err)
	}
	if grew := after.peak - before.peak; grew > 12<<20 {
		t.Errorf("the agent's peak RSS grew by %d KiB under the flood", grew>>10)
	}
	out = receipts(t, r)
	if !strings.Contains(out, "INC-1 (1)") {
		t.Errorf("INC-1 is gone from the receipts after they rotated:\n%s", head(out, 10))
	}
	// The agent is back online at the honest collector, but refuses its
	// requests until the flood's would have expired (at most
	// protocol.MaxRequestLife): with 4,096 nonces held it can no longer
	// tell a replay from a new request expiring before those it forgot.
	// It says so.
	out, err = r.reconnect(t, h)
	if err == nil || !strings.Contains(out, "remembers too many requests") {
		t.Errorf("sonde snapshot after the flood: %v\n%s", err, out)
	}
}

// receipts runs `sonde-agent receipts` on the rig's state dir.
func receipts(t *testing.T, r *rig) string {
	t.Helper()
	out, err := exec.Command(r.bin("sonde-agent"), "receipts", "--state", r.state).CombinedOutput()
	if err != nil {
		t.Fatalf("sonde-agent receipts: %v\n%s", err, out)
	}
	return string(out)
}

func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

func head(text string, n int) string {
	lines := strings.SplitN(text, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestReplayAfterRestart: a signed request refused as a replay used to be
// accepted again once the agent restarted.
func TestReplayAfterRestart(t *testing.T) {
	r := newRig(t)
	h := r.startHostile(t, r.requestKey, time.Hour)
	r.startAgent(t)
	conn := h.conn(t)
	// A short life: after a restart the agent refuses every request
	// expiring no later than one it accepted before (it keeps their latest
	// expiry, not the nonces), the honest collector's too, until then.
	req := h.request(t, "rq-once", "", 15*time.Second, "time")
	if m, err := h.ask(t.Context(), conn, req, ""); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*protocol.Snapshot); !ok {
		t.Fatalf("the first request was answered %s", describe(m))
	}
	wantReplayRefused(t, h, conn, req)

	r.agent.Terminate()
	if err := r.agent.Wait(t, 20*time.Second); err != nil {
		t.Logf("the agent ended: %v", err)
	}
	r.startAgent(t)
	wantReplayRefused(t, h, h.conn(t), req)
	time.Sleep(time.Until(time.UnixMilli(req.Deadline)))
	r.backToHonest(t, h)
}

func wantReplayRefused(t *testing.T, h *hostile, conn *quic.Conn, req *protocol.SnapshotRequest) {
	t.Helper()
	m, err := h.ask(t.Context(), conn, req, "")
	var e *protocol.Error
	if err == nil {
		e, _ = m.(*protocol.Error)
	}
	if e == nil || e.Code != protocol.CodeUnauthorized {
		t.Fatalf("a replayed request was answered %s (err %v), want it refused", describe(m), err)
	}
	t.Logf("replay refused: %s", e.Message)
}

// TestDuplicateProbesRefused: a request naming one probe 64 times used to
// run it 64 times (64 × network: 64 handshakes) for a snapshot the
// protocol's own check then refused.
func TestDuplicateProbesRefused(t *testing.T) {
	r := newRig(t)
	h := r.startHostile(t, r.requestKey, time.Hour)
	r.startAgent(t)
	conn := h.conn(t)
	probes := make([]string, 64)
	for i := range probes {
		probes[i] = "network"
	}
	m, err := h.ask(t.Context(), conn, h.request(t, "rq-dup", "", time.Minute, probes...), "")
	var e *protocol.Error
	if err == nil {
		e, _ = m.(*protocol.Error)
	}
	if e == nil || !strings.Contains(e.Message, "twice") {
		t.Fatalf("a request naming network 64 times was answered %s (err %v), want it refused", describe(m), err)
	}
	r.backToHonest(t, h)
}

// TestLocalFiles: run as root, `sonde-agent snapshot -o` used to follow a
// link another user planted and overwrite its target; and enrolling into
// a state dir that was there kept its mode (0755: every local user could
// read the certificate and list the spool).
func TestLocalFiles(t *testing.T) {
	r := newRig(t)
	if fi, err := os.Stat(r.state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the state dir after enrolling: %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(victim, []byte("root's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(shared, "x")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(r.bin("sonde-agent"), "snapshot", "--state", r.state, "--probes", "time", "-o", planted).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("snapshot -o onto a planted link: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's file" {
		t.Fatalf("the link's target was overwritten: %.60q", b)
	}
	t.Logf("refused: %s", bytes.TrimSpace(out))
}

// describe names a message for a failure report: an error's text, or the
// type of anything else.
func describe(m protocol.Message) string {
	switch m := m.(type) {
	case nil:
		return "nothing"
	case *protocol.Error:
		return fmt.Sprintf("error %d: %s", m.Code, m.Message)
	default:
		return "a " + m.Type().String()
	}
}

// TestNothingLeavesWithoutTheRequestKey: a collector with the CA (so a
// certificate the agent takes) but not the request key used to have every
// request refused, yet receive the hello's facts, the health snapshots and
// a fault snapshot after a reconnect. The agent now sends nothing past its
// hello until the collector proves it holds the request key.
func TestNothingLeavesWithoutTheRequestKey(t *testing.T) {
	r := newRig(t)
	_, wrong, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := r.startHostile(t, wrong, 10*time.Second)
	r.startAgent(t)
	h.conn(t)
	// Three tries (backoff 1 s, 2 s, 4 s) or 20 s, whichever comes first.
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if msgs, _ := h.received(); len(msgs) >= 3 {
			break
		}
	}
	msgs, streams := h.received()
	for _, m := range msgs {
		hello, ok := m.(*protocol.Hello)
		if !ok {
			t.Errorf("the agent sent a %s to a collector without the request key", m.Type())
			continue
		}
		if !reflect.ValueOf(hello.Facts).IsZero() || len(hello.Probes) > 0 || hello.BootEpoch != 0 {
			t.Errorf("the hello told of the machine: facts %+v, probes %v, boot epoch %d", hello.Facts, hello.Probes, hello.BootEpoch)
		}
	}
	if len(msgs) < 2 {
		t.Errorf("%d connections in 20 s: the agent should have tried again", len(msgs))
	}
	if streams != len(msgs) {
		t.Errorf("the agent opened %d streams for %d hellos", streams, len(msgs))
	}
	t.Logf("heard %d messages on %d streams", len(msgs), streams)
	if !strings.Contains(r.agent.Output(), "did not prove it holds the request key") {
		t.Errorf("the agent's log does not say why it sent nothing")
	}
	r.backToHonest(t, h)
}

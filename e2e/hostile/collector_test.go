//go:build linux

package hostile

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/protocol"
)

// rig is an honest collector with one enrolled agent, and what a hostile
// collector in its place would hold: the CA, the request key.
type rig struct {
	honest     *harness.Collector
	state      string
	agentID    string
	apiKey     string
	ca         *pki.CA
	requestKey ed25519.PrivateKey
	agent      *harness.Proc
}

// newRig enrolls an agent with an honest collector, then stops the
// collector: each case starts the hostile one in its place.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{state: filepath.Join(t.TempDir(), "state")}
	// A state dir that is there already, with a loose mode: enrolling
	// must make it the agent's own (TestLocalFiles).
	if err := os.Mkdir(r.state, 0o755); err != nil {
		t.Fatal(err)
	}
	r.honest = &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	r.honest.Start(t)
	token, pin := r.honest.Token(t, 1)
	harness.Run(t, r.bin("sonde-agent"), "enroll", "--state", r.state, "--collector", r.honest.QUIC, "--token", token, "--ca-pin", pin)
	out := harness.Run(t, r.bin("sonde-collector"), "apikey", "create", "hostile", "--role", "l2", "--data", r.honest.Data)
	r.apiKey = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	r.honest.Proc.Stop(10 * time.Second)

	var err error
	if r.ca, _, err = pki.LoadOrCreate(r.honest.Data); err != nil {
		t.Fatal(err)
	}
	seed, err := pki.LoadOrCreateSecret(r.honest.Data, pki.RequestKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	r.requestKey = ed25519.NewKeyFromSeed(seed[:])
	id, err := state.Load(r.state)
	if err != nil {
		t.Fatal(err)
	}
	r.agentID = id.AgentID
	return r
}

// bin is the path of a program built for this run. SONDE_HOSTILE_AGENT
// names another sonde-agent to run instead: one built from an earlier
// commit, to see that the cases fail there.
func (r *rig) bin(name string) string {
	if other := os.Getenv("SONDE_HOSTILE_AGENT"); other != "" && name == "sonde-agent" {
		return other
	}
	return filepath.Join(bin, name)
}

// startAgent runs the agent as its service does.
func (r *rig) startAgent(t *testing.T) {
	t.Helper()
	r.agent = harness.Start(t, "", r.bin("sonde-agent"), "run", "--state", r.state, "--log-format", "json")
}

// backToHonest stops the hostile collector, starts the honest one and
// waits for the agent to come back online there and answer a snapshot.
func (r *rig) backToHonest(t *testing.T, h *hostile) {
	t.Helper()
	if out, err := r.reconnect(t, h); err != nil || !strings.Contains(out, "stored as snapshot") {
		t.Fatalf("sonde snapshot at the honest collector: %v\n%s", err, out)
	}
}

// reconnect stops the hostile collector, starts the honest one, waits for
// the agent to come back online there and returns what `sonde snapshot`
// printed.
func (r *rig) reconnect(t *testing.T, h *hostile) (string, error) {
	t.Helper()
	h.close()
	harness.WaitFor(t, "the hostile collector's UDP port to be free", 10*time.Second, func() bool {
		c, err := net.ListenPacket("udp", r.honest.QUIC)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	r.honest.Start(t)
	harness.WaitFor(t, "the agent to be online at the honest collector", 90*time.Second, func() bool {
		var agents []struct {
			ID     string `json:"id"`
			Online bool   `json:"online"`
		}
		if err := r.get("/api/v1/agents", &agents); err != nil {
			return false
		}
		return len(agents) == 1 && agents[0].ID == r.agentID && agents[0].Online
	})
	cmd := exec.Command(r.bin("sonde"), "snapshot", r.agentID, "--probes", "time")
	cmd.Env = append(os.Environ(), "SONDE_URL=http://"+r.honest.HTTP, "SONDE_TOKEN="+r.apiKey)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (r *rig) get(path string, v any) error {
	req, err := http.NewRequest("GET", "http://"+r.honest.HTTP+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// usage is what the agent's process has used: CPU time, and its peak
// resident memory.
type usage struct {
	cpu  time.Duration
	peak int64 // VmHWM, bytes
}

func (r *rig) usage(t *testing.T) usage {
	t.Helper()
	cpu, err := harness.ProcCPU(fmt.Sprint(r.agent.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.agent.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	return usage{cpu: cpu, peak: harness.StatusField(string(status), "VmHWM:")}
}

// diskUse is what the state dir takes on disk, in blocks of 512 bytes
// as the kernel counts them (what du prints), not the files' sizes.
func diskUse(t *testing.T, dir string) (bytes int64, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += blocks(info) * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bytes, files
}

// hostile is a collector built on the protocol package: it welcomes the
// agent with what it is told, records every message the agent sends,
// acknowledges snapshots, and lets a case open streams to the agent.
type hostile struct {
	ln       *quic.Listener
	key      ed25519.PrivateKey // the request key it signs with
	agentID  string
	interval time.Duration // the welcome's health interval

	mu      sync.Mutex
	got     []protocol.Message // in arrival order
	streams int                // streams the agent opened
	conns   chan *quic.Conn
	all     []*quic.Conn // to close with the listener
	closed  bool
}

// startHostile listens where the honest collector did, with a server
// certificate from its CA, signing requests with key.
func (r *rig) startHostile(t *testing.T, key ed25519.PrivateKey, interval time.Duration) *hostile {
	t.Helper()
	cert, err := r.ca.ServerCertificate([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    r.ca.Pool(),
		NextProtos:   []string{protocol.ALPN},
	}
	ln, err := quic.ListenAddr(r.honest.QUIC, tc, &quic.Config{MaxIdleTimeout: 30 * time.Second, MaxIncomingStreams: 1000, KeepAlivePeriod: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{ln: ln, key: key, agentID: r.agentID, interval: interval, conns: make(chan *quic.Conn, 16)}
	t.Cleanup(h.close)
	go h.accept()
	return h
}

// close stops listening and closes every connection: the UDP socket is
// free once both are done.
func (h *hostile) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, c := range h.all {
		c.CloseWithError(0, "")
		<-c.Context().Done()
	}
	h.all = nil
}

func (h *hostile) accept() {
	for {
		conn, err := h.ln.Accept(context.Background())
		if err != nil {
			return
		}
		h.mu.Lock()
		closed := h.closed
		h.all = append(h.all, conn)
		h.mu.Unlock()
		if closed {
			conn.CloseWithError(0, "")
			return
		}
		select {
		case h.conns <- conn:
		default:
		}
		go h.serve(conn)
	}
}

func (h *hostile) serve(conn *quic.Conn) {
	defer conn.CloseWithError(0, "")
	for {
		str, err := conn.AcceptStream(context.Background())
		if err != nil {
			return
		}
		h.mu.Lock()
		h.streams++
		h.mu.Unlock()
		go h.serveStream(conn, str)
	}
}

func (h *hostile) serveStream(conn *quic.Conn, str *quic.Stream) {
	defer str.Close()
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(30 * time.Second))
	m, err := protocol.Read(str)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.got = append(h.got, m)
	h.mu.Unlock()
	switch m := m.(type) {
	case *protocol.Hello:
		// The proof an honest collector gives, with the key this one has.
		w := &protocol.Welcome{CollectorTime: time.Now().UnixNano(), HealthInterval: int64(h.interval)}
		binding, err := protocol.HelloBinding(conn.ConnectionState().TLS)
		if err != nil {
			return
		}
		w.Proof = protocol.ProveHello(h.key, m.AgentID, m.Challenge, binding)
		if protocol.Write(str, w) != nil {
			return
		}
		if intro, err := protocol.Read(str); err == nil {
			h.mu.Lock()
			h.got = append(h.got, intro)
			h.mu.Unlock()
		}
	case *protocol.Snapshot:
		protocol.Write(str, &protocol.Ack{AgentID: m.AgentID, BootEpoch: m.BootEpoch, Seq: m.Seq})
	}
}

// received returns what the agent sent so far, and the streams it opened.
func (h *hostile) received() ([]protocol.Message, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]protocol.Message(nil), h.got...), h.streams
}

// conn waits for the agent to connect.
func (h *hostile) conn(t *testing.T) *quic.Conn {
	t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not connect to the hostile collector within 60 s")
		return nil
	}
}

// request returns a request for probes, expiring in life, signed with the
// hostile collector's request key.
func (h *hostile) request(t *testing.T, id, ticket string, life time.Duration, probes ...string) *protocol.SnapshotRequest {
	t.Helper()
	req := &protocol.SnapshotRequest{RequestID: id, Probes: probes, Ticket: ticket, Deadline: time.Now().Add(life).UnixMilli()}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	if err := req.Sign(h.key, h.agentID, nonce); err != nil {
		t.Fatal(err)
	}
	return req
}

// ask sends one request on a new stream and returns the agent's answer;
// a snapshot is answered with refusal as an error text when it is set,
// and acknowledged otherwise.
func (h *hostile) ask(ctx context.Context, conn *quic.Conn, req *protocol.SnapshotRequest, refusal string) (protocol.Message, error) {
	b, err := protocol.Append(nil, req)
	if err != nil {
		return nil, err
	}
	return h.askRaw(ctx, conn, b, refusal)
}

// askRaw sends frame, which need not be valid, on a new stream.
func (h *hostile) askRaw(ctx context.Context, conn *quic.Conn, frame []byte, refusal string) (protocol.Message, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	defer str.Close()
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := str.Write(frame); err != nil {
		return nil, err
	}
	m, err := protocol.Read(str)
	if err != nil {
		return nil, err
	}
	if s, ok := m.(*protocol.Snapshot); ok {
		if refusal != "" {
			protocol.Write(str, &protocol.Error{Code: protocol.CodeInternal, RequestID: s.RequestID, Message: refusal})
		} else {
			protocol.Write(str, &protocol.Ack{AgentID: s.AgentID, BootEpoch: s.BootEpoch, Seq: s.Seq})
		}
	}
	return m, nil
}

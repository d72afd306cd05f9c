package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldPorts binds one loopback port number for both TCP and UDP and holds
// both until the test ends: a serve that tried to bind them would fail with
// "address already in use" instead of the error the test expects.
func heldPorts(t *testing.T) string {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, err := net.ListenPacket("udp", l.Addr().String())
		if err != nil {
			l.Close()
			continue
		}
		t.Cleanup(func() { l.Close(); u.Close() })
		return l.Addr().String()
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return ""
}

// TestServeChecksFlagsFirst: serve refuses bad flags with a clear message
// before it creates anything in the data dir or binds a port.
func TestServeChecksFlagsFirst(t *testing.T) {
	cert, key := writeCert(t)
	helpdesks := filepath.Join(t.TempDir(), "helpdesks.yaml")
	if err := os.WriteFile(helpdesks, []byte("connectors:\n  - name: rt\n    kind: rtx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", key}, "--tls-cert and --tls-key go together"},
		{"missing cert file", []string{"--tls-cert", "x.pem", "--tls-key", key}, "HTTPS certificate (--tls-cert, --tls-key): open x.pem: no such file"},
		{"cert is no certificate", []string{"--tls-cert", key, "--tls-key", key}, "HTTPS certificate (--tls-cert, --tls-key): tls: failed to find certificate PEM data"},
		{"audit checkpoint zero", []string{"--audit-checkpoint", "0s"}, "--audit-checkpoint must be positive (got 0s)"},
		{"alert interval negative", []string{"--alert-interval", "-1s"}, "--alert-interval must be positive (got -1s)"},
		{"health interval negative", []string{"--health-interval", "-1m"}, "--health-interval must not be negative (got -1m0s)"},
		{"log format", []string{"--log-format", "xml"}, `--log-format must be text or json, not "xml"`},
		{"alertmanager not a URL", []string{"--alertmanager", "alertmanager:9093"}, `--alertmanager "alertmanager:9093": want an http:// or https:// URL`},
		{"webhook not http", []string{"--webhook", "ftp://example.com/hook"}, `--webhook "ftp://example.com/hook": want an http:// or https:// URL`},
		{"QUIC address", []string{"--quic", "7443"}, `--quic "7443": want HOST:PORT or :PORT`},
		{"TCP address", []string{"--tcp", "localhost"}, `--tcp "localhost": want HOST:PORT or :PORT`},
		{"HTTP port", []string{"--http", "127.0.0.1:70800"}, `--http "127.0.0.1:70800": the port must be a number from 0 to 65535`},
		{"no data dir", []string{"--data", ""}, "--data must name a folder"},
		{"pprof on the network", []string{"--pprof", "0.0.0.0:6060"}, `--pprof "0.0.0.0:6060": only a loopback address`},
		{"pprof not an address", []string{"--pprof", "6060"}, `--pprof "6060": want HOST:PORT or :PORT`},
		{"an argument", []string{"now"}, `serve takes no arguments, only flags (got "now")`},
		{"helpdesks file", []string{"--helpdesks", helpdesks}, `loading the helpdesks ` + helpdesks + `: connector 1 ("rt"): kind "rtx": want one of glpi, jira, redmine, rt`},
		{"no helpdesks file", []string{"--helpdesks", "nosuch.yaml"}, `loading the helpdesks: open nosuch.yaml: no such file`},
		{"public URL", []string{"--public-url", "sonde.example.com"}, `--public-url "sonde.example.com": want an http:// or https:// URL`},
		{"helpdesk retry", []string{"--helpdesk-retry", "0s"}, `--helpdesk-retry must be positive (got 0s)`},
		{"unknown flag", []string{"--tls-crt", cert}, "flag provided but not defined: -tls-crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := heldPorts(t)
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--data", data, "--quic", addr, "--http", addr}, tc.args...)
			var stderr bytes.Buffer
			code := Main(t.Context(), args, &bytes.Buffer{}, &stderr)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			if strings.Contains(stderr.String(), "address already in use") {
				t.Errorf("serve tried to bind a port before refusing its flags:\n%s", stderr.String())
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data dir was made (%v) before the flags were refused", err)
			}
			if _, err := os.Stat(DefaultData); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was made in the working folder", DefaultData)
			}
		})
	}

	// The control: sound flags get as far as the held ports.
	addr := heldPorts(t)
	err := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--quic", addr, "--http", addr}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("with the ports held and sound flags: %v, want address already in use", err)
	}
}

// writeCert writes a self-signed certificate for localhost and its key as
// PEM files.
func writeCert(t *testing.T) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// servedLog is a running serve's log (JSON lines), safe to read while it
// writes.
type servedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *servedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log's records.
func (l *servedLog) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (l *servedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServe runs serve in this process on loopback ports chosen by the
// system, and returns its log, its addresses once it serves, and a
// function that cancels its context and returns its error.
func startServe(t *testing.T, extra ...string) (log *servedLog, quicAddr, httpAddr string, stop func() error) {
	t.Helper()
	log = &servedLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"serve", "--data", t.TempDir(), "--quic", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json"}, extra...)
	go func() { done <- run(ctx, args, &bytes.Buffer{}, log) }()
	stopped := false
	stop = func() error {
		t.Helper()
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not return within 30 s of its context ending:\n%s", log)
			return nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for quicAddr == "" {
		select {
		case err := <-done:
			t.Fatalf("serve returned before serving: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
		for _, l := range log.lines() {
			if l["msg"] == "collector serving" {
				quicAddr, _ = l["quic"].(string)
				httpAddr, _ = l["http"].(string)
			}
		}
	}
	return log, quicAddr, strings.TrimPrefix(httpAddr, "http://"), stop
}

// shutdownOrder is the order of serve's log lines as it stops.
var shutdownOrder = []string{
	"collector stopping",
	"ingest stopped accepting; draining",
	"ingest drained",
	"background loops stopped",
	"store closed",
	"collector stopped",
}

// checkOrder fails the test unless the log holds each of want once, in
// that order, and "HTTP server stopped" between the first and the loops'.
func checkOrder(t *testing.T, log *servedLog, want []string) {
	t.Helper()
	at := map[string]int{}
	for i, l := range log.lines() {
		msg, _ := l["msg"].(string)
		if _, seen := at[msg]; seen && msg != "agent disconnected" {
			t.Errorf("%q logged twice", msg)
		}
		at[msg] = i
	}
	prev, prevAt := "", -1
	for _, msg := range want {
		i, ok := at[msg]
		if !ok {
			t.Fatalf("%q not logged", msg)
		}
		if i <= prevAt {
			t.Errorf("%q logged before %q", msg, prev)
		}
		prev, prevAt = msg, i
	}
}

// TestServeStopsInOrder: serve, told to stop, stops accepting, drains,
// stops its loops and closes the store last, then returns nil with every
// goroutine it started ended (TestMain's goleak) and its ports free.
func TestServeStopsInOrder(t *testing.T) {
	log, quicAddr, httpAddr, stop := startServe(t)
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %s", resp.Status)
	}
	for _, l := range log.lines() {
		if l["msg"] == "collector serving" && l["tcp"] != quicAddr {
			t.Errorf("serving TCP on %v, want QUIC's address %s by default", l["tcp"], quicAddr)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve after its context ended: %v, want nil", err)
	}
	checkOrder(t, log, shutdownOrder)
	checkOrder(t, log, []string{"collector stopping", "HTTP server stopped", "background loops stopped"})
	u, err := net.ListenPacket("udp", quicAddr)
	if err != nil {
		t.Fatalf("the QUIC port is still held: %v", err)
	}
	u.Close()
	if l, err := net.Listen("tcp", quicAddr); err != nil {
		t.Errorf("the TCP fallback's port is still held: %v", err)
	} else {
		l.Close()
	}
	l, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatalf("the HTTP port is still held: %v", err)
	}
	l.Close()
}

// TestServeReturnsHTTPShutdownError: a request still in flight when the
// HTTP grace ends is cut, and serve says so in its error; the rest of the
// shutdown goes on, the store closing last.
func TestServeReturnsHTTPShutdownError(t *testing.T) {
	old := httpGrace
	httpGrace = 300 * time.Millisecond
	t.Cleanup(func() { httpGrace = old })
	log, _, httpAddr, stop := startServe(t)
	// A request whose headers never end: the server waits for them.
	c, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /readyz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // for the server to read them
	err = stop()
	if err == nil || !strings.Contains(err.Error(), "HTTP shutdown") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("serve: %v, want the HTTP shutdown's deadline", err)
	}
	checkOrder(t, log, shutdownOrder)
}

// TestServeTCPOff: --tcp "" serves no TCP fallback.
func TestServeTCPOff(t *testing.T) {
	log, quicAddr, _, stop := startServe(t, "--tcp", "")
	for _, l := range log.lines() {
		if l["msg"] == "collector serving" && l["tcp"] != "off" {
			t.Errorf("with --tcp \"\": serving TCP on %v", l["tcp"])
		}
	}
	if c, err := net.Dial("tcp", quicAddr); err == nil {
		c.Close()
		t.Errorf("something listens on TCP %s with --tcp \"\"", quicAddr)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a process's output for the test's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	ln := listen(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTinyproxy runs Debian's tinyproxy in the foreground on a loopback
// port, allowing CONNECT to connectPort only, for user:pass by Basic
// authentication. A missing tinyproxy fails the test: scripts/deps.sh
// installs it.
func startTinyproxy(t *testing.T, connectPort int, user, pass string) string {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Fatalf("tinyproxy is needed for this test (apt-get install tinyproxy, or scripts/deps.sh test): %v", err)
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "tinyproxy.conf")
	text := fmt.Sprintf(`Port %d
Listen 127.0.0.1
Timeout 10
MaxClients 8
LogLevel Info
Allow 127.0.0.1
ConnectPort %d
BasicAuth %s %s
DisableViaHeader Yes
`, port, connectPort, user, pass)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "-d", "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tinyproxy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("tinyproxy's log:\n%s", out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("tinyproxy did not listen on %s: %v\n%s", addr, err, out.String())
		}
	}
}

// TestTinyproxy dials through Debian's tinyproxy (1.11, BasicAuth): the
// tunnel carries bytes to a loopback echo server; a wrong password and a
// port the proxy does not allow get the messages an IT person acts on.
func TestTinyproxy(t *testing.T) {
	echo := echoServer(t)
	echoPort := echo.ln.Addr().(*net.TCPAddr).Port
	addr := startTinyproxy(t, echoPort, "agent", "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := Dial(ctx, proxyURL(t, "http://agent:s3cret@"+addr), echo.addr(), &net.Dialer{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn)
	conn.Close()

	// Debian's tinyproxy (1.11.1) answers 401 with WWW-Authenticate
	// where RFC 9110 says 407 with Proxy-Authenticate (its issue 532,
	// fixed in 1.11.2): the message is the same.
	_, err = Dial(ctx, proxyURL(t, "http://agent:wrong@"+addr), echo.addr(), nil)
	wantRe := regexp.MustCompile(`^the proxy at ` + regexp.QuoteMeta(addr) + ` refused our credentials \((407 Proxy Authentication Required|401 Unauthorized); it asks for Basic\): check the user and password of the proxy URL$`)
	var pe *Error
	if err == nil || !wantRe.MatchString(err.Error()) || !errors.As(err, &pe) {
		t.Errorf("wrong password:\ngot  %v\nwant %s", err, wantRe)
	}

	_, err = Dial(ctx, proxyURL(t, "http://"+addr), echo.addr(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "the proxy at "+addr+" requires authentication (40") || !strings.Contains(err.Error(), "it asks for Basic): give a user and password") {
		t.Errorf("no credentials: %v", err)
	}

	other := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, err = Dial(ctx, proxyURL(t, "http://agent:s3cret@"+addr), other, nil)
	want := "the proxy at " + addr + " refused CONNECT to " + other + " (403 "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "): allow that host and port") {
		t.Errorf("a port not allowed:\ngot  %v\nwant %s...", err, want)
	}
}

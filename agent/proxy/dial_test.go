package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// roundTrip writes through conn and expects the echo back.
func roundTrip(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "ping through the tunnel"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("ping through the tunnel"))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping through the tunnel" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

func proxyURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialDirect(t *testing.T) {
	echo := echoServer(t)
	conn, err := Dial(ctx5s(t), nil, echo.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn)
}

func TestDialThroughProxy(t *testing.T) {
	echo := echoServer(t)
	p := (&testProxy{}).start(t)
	conn, err := Dial(ctx5s(t), proxyURL(t, "http://"+p.addr()), echo.addr(), &net.Dialer{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn)
	req := p.lastRequest(t)
	if req.Method != "CONNECT" || req.Host != echo.addr() || req.Proto != "HTTP/1.1" || req.Header.Get("Proxy-Authorization") != "" {
		t.Errorf("request %s %s %s, auth %q", req.Method, req.Host, req.Proto, req.Header.Get("Proxy-Authorization"))
	}
}

func TestDialBasicAuth(t *testing.T) {
	echo := echoServer(t)
	p := (&testProxy{user: "agent", pass: "p@ss:w0rd/é", challenge: []string{`Basic realm="corp"`}}).start(t)
	// The password is percent-encoded in the URL, as a user writes it.
	u := proxyURL(t, "http://agent:"+url.PathEscape("p@ss:w0rd/é")+"@"+p.addr())
	conn, err := Dial(ctx5s(t), u, echo.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn)
}

func TestDialRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proxy *testProxy
		user  string
		want  string
	}{
		{"wrong password, Basic offered", &testProxy{user: "agent", pass: "right", challenge: []string{`Basic realm="corp"`}}, "agent:wrong@",
			"the proxy at ADDR refused our credentials (407 Proxy Authentication Required; it asks for Basic): check the user and password of the proxy URL"},
		{"no credentials, Basic offered", &testProxy{user: "agent", pass: "right", challenge: []string{`Basic realm="a, b", charset="UTF-8"`}}, "",
			"the proxy at ADDR requires authentication (407 Proxy Authentication Required; it asks for Basic): give a user and password in the proxy URL"},
		{"NTLM and Negotiate only", &testProxy{user: "agent", pass: "right", challenge: []string{"Negotiate", "NTLM"}}, "agent:wrong@",
			"the proxy at ADDR refused our credentials (407 Proxy Authentication Required; it asks for Negotiate, NTLM: not supported, use Basic or exempt the collector)"},
		{"one header, several schemes", &testProxy{user: "agent", pass: "right", challenge: []string{`Negotiate, NTLM, Digest realm="x", nonce="a,b"`}}, "",
			"the proxy at ADDR requires authentication (407 Proxy Authentication Required; it asks for Negotiate, NTLM, Digest: not supported, use Basic or exempt the collector)"},
		{"no scheme named", &testProxy{user: "agent", pass: "right"}, "",
			"the proxy at ADDR requires authentication (407 Proxy Authentication Required; it names no scheme: not supported, use Basic or exempt the collector)"},
		{"401 for 407, as tinyproxy 1.11.1 answers", &testProxy{answer: "HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n"}, "agent:wrong@",
			"the proxy at ADDR refused our credentials (401 Unauthorized; it asks for Basic): check the user and password of the proxy URL"},
		{"403", &testProxy{answer: "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"}, "",
			"the proxy at ADDR refused CONNECT to collector.example.com:7443 (403 Forbidden): allow that host and port"},
		{"403 without a reason", &testProxy{answer: "HTTP/1.0 403\r\n\r\n"}, "",
			"the proxy at ADDR refused CONNECT to collector.example.com:7443 (403 Forbidden): allow that host and port"},
		{"502", &testProxy{answer: "HTTP/1.1 502 Bad Gateway\r\n\r\n"}, "",
			"the proxy at ADDR could not open a connection to collector.example.com:7443 (502 Bad Gateway): check that the proxy can reach that host and port"},
		{"not HTTP", &testProxy{answer: "SSH-2.0-OpenSSH_9.2\r\n"}, "",
			`CONNECT through the proxy at ADDR to collector.example.com:7443: not an HTTP response: it began "SSH-2.0-OpenSSH_9.2"`},
		{"closed early", &testProxy{answer: "HTTP/1.1 200 OK\r\nVia: x\r\n"}, "",
			"CONNECT through the proxy at ADDR to collector.example.com:7443: the connection closed before the end of the headers"},
		{"headers too long", &testProxy{answer: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 100)+"\r\n", 200) + "\r\n"}, "",
			"CONNECT through the proxy at ADDR to collector.example.com:7443: status line and headers longer than 16384 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.proxy.start(t)
			target := "collector.example.com:7443"
			_, err := Dial(ctx5s(t), proxyURL(t, "http://"+tc.user+p.addr()), target, nil)
			want := strings.ReplaceAll(tc.want, "ADDR", p.addr())
			var pe *Error
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got  %v\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "right") || strings.Contains(err.Error(), "wrong") {
				t.Errorf("a password in the error: %v", err)
			}
		})
	}
}

func TestDialTimeouts(t *testing.T) {
	silent := (&testProxy{silent: true}).start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, proxyURL(t, "http://"+silent.addr()), "collector.example.com:7443", nil)
	want := "the proxy at " + silent.addr() + " did not answer CONNECT to collector.example.com:7443 in time"
	if err == nil || err.Error() != want || time.Since(start) > 3*time.Second {
		t.Errorf("silent proxy: %v after %s\nwant %s", err, time.Since(start), want)
	}
	var pe *Error
	if !errors.As(err, &pe) || !pe.Timeout() || pe.Op != OpTunnel {
		t.Errorf("not a timeout of the tunnel: %#v", pe)
	}

	// Cancelled, not timed out: said so.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = Dial(ctx, proxyURL(t, "http://"+silent.addr()), "collector.example.com:7443", nil)
	if err == nil || !errors.Is(err, context.Canceled) || errors.As(err, &pe) && pe.Timeout() {
		t.Errorf("cancelled: %v", err)
	}

	// A proxy that cannot be reached: the TCP connection's timeout, named.
	d := &net.Dialer{Timeout: time.Nanosecond}
	_, err = Dial(context.Background(), proxyURL(t, "http://192.0.2.1:3128"), "collector.example.com:7443", d)
	if err == nil || err.Error() != "connecting to the proxy at 192.0.2.1:3128: timed out" || !errors.As(err, &pe) || !pe.Timeout() {
		t.Errorf("unreachable proxy: %v", err)
	}

	// Nothing listens: refused, named.
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(ctx5s(t), proxyURL(t, "http://"+addr), "collector.example.com:7443", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "connecting to the proxy at "+addr+": ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("closed port: %v", err)
	}
}

// TestDialKeepsEarlyBytes: bytes a proxy sends right after its headers
// are the tunnel's first, not lost.
func TestDialKeepsEarlyBytes(t *testing.T) {
	p := (&testProxy{answer: "HTTP/1.1 200 Connection established\r\n\r\nhello"}).start(t)
	conn, err := Dial(ctx5s(t), proxyURL(t, "http://"+p.addr()), "collector.example.com:7443", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, err := io.ReadAll(conn)
	if string(b) != "hello" || err != nil {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestDialHTTPSProxy(t *testing.T) {
	ca := newCA(t, "Test Proxy CA")
	echo := echoServer(t)
	p := (&testProxy{tls: &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "localhost")}}, user: "agent", pass: "pw"}).start(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	dl := &Dialer{TLS: &tls.Config{RootCAs: pool}}
	_, port, _ := net.SplitHostPort(p.addr())
	conn, err := dl.Dial(ctx5s(t), proxyURL(t, "https://agent:pw@localhost:"+port), echo.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn)

	// Its certificate is checked: without the CA, the TLS step fails, named.
	_, err = Dial(ctx5s(t), proxyURL(t, "https://localhost:"+port), echo.addr(), nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.Op != OpTLS || !strings.HasPrefix(err.Error(), "TLS with the proxy at localhost:"+port+": ") {
		t.Errorf("untrusted proxy certificate: %v", err)
	}
}

func TestDialBadInput(t *testing.T) {
	for _, tc := range []struct{ proxy, target, want string }{
		{"http://p:1", "collector", "not host:port"},
		{"http://p:1", "a\r\nX-Evil:7443", "control character"},
		{"http://p:1", "a:0", "not a number"},
		{"socks5://p:1080", "a:1", "SOCKS proxy: not supported"},
		{"http://a:b@p:1/proxy.pac", "a:1", "has a path"},
		{"http://a%3Ab:pw@p:1", "a:1", "user name with ':'"},
	} {
		_, err := Dial(ctx5s(t), proxyURL(t, tc.proxy), tc.target, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s to %q: %v, want %q", tc.proxy, tc.target, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("password in %v", err)
		}
	}
}

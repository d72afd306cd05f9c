package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// server runs handle on each connection to a loopback listener until the
// test ends, then closes the listener and every connection and waits for
// its goroutines.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) *server {
	t.Helper()
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) track(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *server) addr() string { return s.ln.Addr().String() }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// echoServer answers every connection with what it reads.
func echoServer(t *testing.T) *server {
	return serve(t, listen(t), func(c net.Conn) { io.Copy(c, c) })
}

// testProxy is an HTTP CONNECT proxy on loopback: it tunnels to the
// requested target, with Basic authentication when user is set, or gives
// a fixed answer.
type testProxy struct {
	*server
	// user and pass, when user is set, are the credentials it demands;
	// challenge is its Proxy-Authenticate headers then.
	user, pass string
	challenge  []string
	// answer, when set, is sent instead of tunnelling, then the
	// connection closes; silent makes it never answer.
	answer string
	silent bool
	// tls, when set, makes it an https:// proxy.
	tls *tls.Config

	mu       sync.Mutex
	requests []*http.Request
}

func (p *testProxy) start(t *testing.T) *testProxy {
	t.Helper()
	ln := listen(t)
	if p.tls != nil {
		ln = tls.NewListener(ln, p.tls)
	}
	p.server = serve(t, ln, p.handle)
	return p
}

func (p *testProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	p.mu.Unlock()
	switch {
	case p.silent:
		io.Copy(io.Discard, c)
		return
	case p.answer != "":
		io.WriteString(c, p.answer)
		return
	case req.Method != http.MethodConnect:
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	case p.user != "" && req.Header.Get("Proxy-Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass)):
		var h strings.Builder
		for _, ch := range p.challenge {
			h.WriteString("Proxy-Authenticate: " + ch + "\r\n")
		}
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"+h.String()+"Content-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	p.server.track(up)
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(up, br) // what the client sent, buffered or not
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	<-done
}

// lastRequest returns the last request the proxy read.
func (p *testProxy) lastRequest(t *testing.T) *http.Request {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.requests) == 0 {
		t.Fatal("the proxy read no request")
	}
	return p.requests[len(p.requests)-1]
}

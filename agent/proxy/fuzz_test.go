package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// responseSeeds are answers proxies give to CONNECT.
var responseSeeds = []string{
	"HTTP/1.1 200 Connection established\r\n\r\n",
	"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n",
	"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic realm=\"corp, eu\"\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html\r\n\r\n<html>",
	"HTTP/1.1 200 OK\n\nearly tunnel bytes",
	"HTTP/1.1 200\r\n folded: header\r\n\r\n",
	"HTTP/1.0 401 Unauthorized\r\nServer: tinyproxy/1.11.1\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\nConnection: close\r\n\r\n",
}

// chunked reads b a few bytes at a time, as a slow proxy sends it.
type chunked struct{ b []byte }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], c.b)
	c.b = c.b[n:]
	return n, nil
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &chunked{b: b}
		resp, extra, err := readResponse(r)
		if err != nil {
			return
		}
		// extra is what was read past the head; the rest is unread.
		head := len(b) - len(extra) - len(r.b)
		if head > MaxResponseHead || !bytes.HasSuffix(b[:head], []byte("\n\n")) && !bytes.HasSuffix(b[:head], []byte("\r\n\r\n")) {
			t.Fatalf("a head of %d bytes accepted", head)
		}
		if !bytes.Equal(extra, b[head:head+len(extra)]) {
			t.Fatal("bytes after the head lost")
		}
		checkResponse(t, resp)
	})
}

func FuzzParseHead(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := parseHead(b)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
		checkResponse(t, resp)
		// What an Error makes of it is bounded too.
		e := &Error{Proxy: "p:1", Target: "c:2", Op: OpTunnel, Status: resp.Status, Reason: resp.Reason, Schemes: resp.Schemes}
		if msg := e.Error(); !utf8.ValidString(msg) || len(msg) > 1024 {
			t.Fatalf("message %q", msg)
		}
	})
}

func checkResponse(t *testing.T, resp response) {
	t.Helper()
	if len(resp.Reason) > maxReason || !utf8.ValidString(resp.Reason) || strings.ContainsAny(resp.Reason, "\r\n") {
		t.Fatalf("reason %q", resp.Reason)
	}
	if len(resp.Schemes) > maxSchemes || len(resp.WWWSchemes) > maxSchemes {
		t.Fatalf("%d and %d schemes", len(resp.Schemes), len(resp.WWWSchemes))
	}
	for _, s := range append(resp.Schemes, resp.WWWSchemes...) {
		if s == "" || len(s) > 32 || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n,=\"") {
			t.Fatalf("scheme %q", s)
		}
	}
}

// FuzzBypassed checks the Windows and macOS bypass lists, which come from
// the host: no input panics, and matching stays fast.
func FuzzBypassed(f *testing.F) {
	f.Add("<local>;*.corp.example;10.*", "a.corp.example")
	f.Add("*.local, 169.254/16", "169.254.1.1")
	f.Add("[2001:db8::5]:7443 https://x:1", "2001:db8::5")
	f.Add(strings.Repeat("*a", 100), strings.Repeat("a", 200)+"b")
	f.Fuzz(func(t *testing.T, list, host string) {
		if len(list) > 4096 || len(host) > 256 {
			return
		}
		bypassed(list, host, "7443")
	})
}

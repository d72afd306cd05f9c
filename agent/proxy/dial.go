package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// ExchangeTimeout bounds the TLS handshake with an https:// proxy and
// the CONNECT exchange when the context sets no deadline.
const ExchangeTimeout = 30 * time.Second

// Dialer opens tunnels through HTTP proxies. The zero Dialer works.
type Dialer struct {
	// Net opens the TCP connections (to the proxy, or to the target when
	// there is no proxy); nil is a zero net.Dialer. Its Timeout bounds
	// the TCP connection only.
	Net *net.Dialer
	// TLS is the configuration for https:// proxies; nil verifies the
	// proxy's certificate against the system's roots. Its ServerName is
	// set to the proxy's host when empty.
	TLS *tls.Config
}

// Dial opens a TCP connection to target (host:port) through the HTTP
// proxy proxyURL, or directly when proxyURL is nil: (&Dialer{Net:
// d}).Dial. See Dialer.Dial.
func Dial(ctx context.Context, proxyURL *url.URL, target string, d *net.Dialer) (net.Conn, error) {
	return (&Dialer{Net: d}).Dial(ctx, proxyURL, target)
}

// Dial opens a TCP connection to target (host:port) through the proxy
// proxyURL, or directly when proxyURL is nil. Through a proxy, it sends
// HTTP/1.1 CONNECT (over TLS to an https:// proxy), with Basic
// authentication when the URL has a user, reads the proxy's status line
// and headers (at most MaxResponseHead bytes), and returns the tunnel on
// a 2xx answer. Any other answer, and every failure, is an *Error that
// names the proxy and says what to change; NTLM, Negotiate (Kerberos)
// and Digest authentication are not supported, and a 407 asking only for
// them says so. The context bounds the whole dial; without a deadline,
// the exchange after the TCP connection is bounded by ExchangeTimeout.
func (dl *Dialer) Dial(ctx context.Context, proxyURL *url.URL, target string) (net.Conn, error) {
	nd := dl.Net
	if nd == nil {
		nd = &net.Dialer{}
	}
	if _, _, err := splitTarget(target); err != nil {
		return nil, fmt.Errorf("dialing %q: %w", target, err)
	}
	if proxyURL == nil {
		conn, err := nd.DialContext(ctx, "tcp", target)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", target, err)
		}
		return conn, nil
	}
	u, err := ParseURL(proxyURL.String())
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxyURL.Redacted(), err)
	}
	auth, err := basicAuth(u.User)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", u.Redacted(), err)
	}
	fail := func(op string, err error) error { return &Error{Proxy: u.Host, Target: target, Op: op, Err: err} }
	conn, err := nd.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fail(OpConnect, err)
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	deadline, has := ctx.Deadline()
	if !has {
		deadline = time.Now().Add(ExchangeTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fail(OpTunnel, err)
	}
	// A deadline in the past unblocks the exchange when ctx ends early
	// (on the TCP connection: conn becomes the TLS one below).
	tcp := conn
	stop := context.AfterFunc(ctx, func() { tcp.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.Scheme == "https" {
		tc := tls.Client(conn, dl.tlsConfig(u.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fail(OpTLS, err)
		}
		conn = tc
	}
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nUser-Agent: sonde-agent\r\n" + auth + "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, fail(OpTunnel, ctxErr(ctx, err))
	}
	resp, extra, err := readResponse(conn)
	if err != nil {
		return nil, fail(OpTunnel, ctxErr(ctx, err))
	}
	if resp.Status/100 != 2 {
		schemes := resp.Schemes
		if resp.Status == 401 && len(schemes) == 0 {
			schemes = resp.WWWSchemes // a proxy that says 401 for 407
		}
		return nil, &Error{Proxy: u.Host, Target: target, Op: OpTunnel, Status: resp.Status, Reason: resp.Reason, Schemes: schemes, SentCredentials: auth != ""}
	}
	if !stop() {
		return nil, fail(OpTunnel, ctx.Err())
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, fail(OpTunnel, err)
	}
	ok = true
	if len(extra) > 0 {
		return &prefixConn{Conn: conn, r: io.MultiReader(bytes.NewReader(extra), conn)}, nil
	}
	return conn, nil
}

// tlsConfig is the configuration for an https:// proxy at host.
func (dl *Dialer) tlsConfig(host string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if dl.TLS != nil {
		c = dl.TLS.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	c.NextProtos = []string{"http/1.1"}
	return c
}

// ctxErr prefers the context's error, which says why a read was cut.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// basicAuth returns the Proxy-Authorization header line for user, or
// "" when there is no user.
func basicAuth(user *url.Userinfo) (string, error) {
	if user == nil || user.Username() == "" {
		return "", nil
	}
	if strings.Contains(user.Username(), ":") {
		return "", errors.New("a user name with ':' cannot be sent with Basic authentication")
	}
	pass, _ := user.Password()
	cred := base64.StdEncoding.EncodeToString([]byte(user.Username() + ":" + pass))
	return "Proxy-Authorization: Basic " + cred + "\r\n", nil
}

// prefixConn is a tunnel whose first bytes the proxy sent with its
// answer.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }
